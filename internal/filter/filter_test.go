package filter

import (
	"math"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

type in struct {
	at float64 // seconds
	v  float64
}

// run feeds readings and returns the outputs ("-" for dropped).
func run(t *testing.T, fs []config.Filter, readings []in) []any {
	t.Helper()
	c := New(fs)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []any
	for _, r := range readings {
		v, ok := c.Apply(t0.Add(time.Duration(r.at*float64(time.Second))), r.v)
		if ok {
			out = append(out, math.Round(v*1000)/1000)
		} else {
			out = append(out, "-")
		}
	}
	return out
}

func seq(vs ...float64) []in {
	r := make([]in, len(vs))
	for i, v := range vs {
		r[i] = in{float64(i), v}
	}
	return r
}

func eq(t *testing.T, name string, got []any, want ...any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v want %v", name, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got %v want %v", name, got, want)
		}
	}
}

func TestFilters(t *testing.T) {
	eq(t, "median", run(t, []config.Filter{{Median: 3}}, seq(10, 50, 11, 12, -40, 13)), 10.0, 30.0, 11.0, 12.0, 11.0, 12.0)
	eq(t, "moving average", run(t, []config.Filter{{MovingAverage: 2}}, seq(10, 20, 40)), 10.0, 15.0, 30.0)
	eq(t, "calibrate two points", run(t, []config.Filter{{Calibrate: [][]float64{{0.5, 0}, {99.5, 100}}}}, seq(0.5, 50, 99.5)), 0.0, 50.0, 100.0)
	// Least squares through three points on y = 2x + 1 with noise.
	eq(t, "calibrate fit", run(t, []config.Filter{{Calibrate: [][]float64{{0, 1}, {1, 3.1}, {2, 4.9}}}}, seq(3)), 6.9)
	eq(t, "clamp", run(t, []config.Filter{{Clamp: []float64{0, 100}}}, seq(-5, 50, 120)), 0.0, 50.0, 100.0)
	eq(t, "delta", run(t, []config.Filter{{Delta: 0.5}}, seq(20, 20.2, 20.4, 20.6, 19.9, 20.0)), 20.0, "-", "-", 20.6, 19.9, "-")
	eq(t, "throttle", run(t, []config.Filter{{Throttle: 10 * time.Second}}, []in{{0, 1}, {5, 2}, {9.9, 3}, {10, 4}, {30, 5}}), 1.0, "-", "-", 4.0, 5.0)
	eq(t, "NaN dropped", run(t, []config.Filter{{Median: 3}}, seq(1, math.NaN(), math.Inf(1), 3)), 1.0, "-", "-", 2.0)
	eq(t, "chain", run(t, []config.Filter{{Median: 3}, {Calibrate: [][]float64{{0, 0}, {10, 20}}}, {Clamp: []float64{0, 50}}, {Delta: 0.3}},
		seq(1, 1, 30, 1.2, 1.3, 2)), 2.0, "-", "-", 2.4, "-", "-")
}

func TestSet(t *testing.T) {
	s := ForSensor(config.Sensor{ID: "air", Fields: []config.Field{
		{Name: "t", Filters: []config.Filter{{Delta: 1}}},
		{Name: "h"},
	}})
	if len(s) != 1 {
		t.Fatalf("set %v", s)
	}
	now := time.Now()
	f := map[string]any{"t": 20.0, "h": 50.0}
	s.Apply(now, f)
	if f["t"] != 20.0 || f["h"] != 50.0 {
		t.Fatalf("first %v", f)
	}
	f = map[string]any{"t": 20.5, "h": 51.0}
	s.Apply(now, f)
	if _, ok := f["t"]; ok || f["h"] != 51.0 {
		t.Fatalf("second %v", f)
	}
	if ForSensor(config.Sensor{ID: "x", Fields: []config.Field{{Name: "a"}}}) != nil {
		t.Error("a sensor without filters has a set")
	}
}

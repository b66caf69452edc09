package history

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

const thermostatYAML = `
name: th
outputs:
  - {id: heater, pin: 17}
sensors:
  - id: air
    driver: sht3x
    address: 0x44
    fields:
      - {name: air_temp, source: temperature}
thermostats:
  - id: heating
    sensor: air_temp
    output: heater
    target: 18
    range: [5, 30]
`

// TestThermostatTargetSeries: a thermostat's target is a series of its
// own (named by the thermostat id, in its sensor's unit, recorded from
// state, so internal/box records it from the bridge's state events); a
// history.fields entry for the thermostat id applies to it; its points are
// served by GET /api/history (JSON, step, CSV) and survive a reopen.
func TestThermostatTargetSeries(t *testing.T) {
	cfg, err := config.Parse("th.yaml", []byte(thermostatYAML+`
history:
  fields:
    heating: {resolution: 0.5, raw: 48h}
`))
	if err != nil {
		t.Fatal(err)
	}
	var found *config.Series
	for _, s := range cfg.Series() {
		if s.Name == "heating" {
			found = &s
		}
	}
	if found == nil || !found.State || found.Output || found.Unit != "°C" {
		t.Fatalf("the thermostat's series: %+v (all: %+v)", found, cfg.Series())
	}
	opts := OptionsFrom(cfg)
	p, ok := opts.Fields["heating"]
	if !ok || p.Disabled || p.Unit != "°C" || p.Resolution != 0.5 || p.Raw != 48*time.Hour || p.Minute != DefaultMinute || p.Quarter != DefaultQuarter {
		t.Fatalf("policy of heating: %+v (present %v)", p, ok)
	}

	dir := t.TempDir()
	clk := &fakeClock{t: capBase}
	opts.Dir, opts.Now = dir, clk.Now
	s := openT(t, opts)
	for _, se := range cfg.Series() { // as internal/box does at start
		s.Declare(se.Name, se.Unit)
	}
	if !s.Enabled("heating") {
		t.Fatal("heating is not recorded")
	}
	// The target at start, a phone's change (rounded to the field's
	// resolution), and the once-a-minute heartbeat of the same target.
	t0 := capBase
	steps := []struct {
		at   time.Duration
		v    float64
		want float64
	}{{0, 18, 18}, {90 * time.Second, 21.3, 21.5}, {150 * time.Second, 21.3, 21.5}}
	for _, st := range steps {
		clk.Set(t0.Add(st.at))
		if !s.Add("heating", t0.Add(st.at), st.v) {
			t.Fatalf("target %v at %s refused", st.v, st.at)
		}
	}
	clk.Set(t0.Add(3 * time.Minute))

	const tok = "member-token"
	var h atomic.Pointer[http.Handler]
	serve := func(st *Store) {
		hh := Handler(HTTPOptions{Store: st, Now: clk.Now, Member: func(x string) bool { return x == tok }})
		h.Store(&hh)
	}
	serve(s)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*h.Load()).ServeHTTP(w, r) }))
	defer srv.Close()
	getJSON := func(query string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+Path+"?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if resp.Header.Get("Content-Type") == "application/json" || strings.HasPrefix(string(b), "{") {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v: %s", query, err, b)
			}
		} else {
			m = map[string]any{"body": string(b)}
		}
		return resp.StatusCode, m
	}
	check := func(label string) {
		t.Helper()
		code, m := getJSON("field=heating&since=1h")
		if code != 200 || m["field"] != "heating" || m["unit"] != "°C" || m["tier"] != "raw" {
			t.Fatalf("%s: %d %v", label, code, m)
		}
		pts, _ := m["points"].([]any)
		if len(pts) != len(steps) {
			t.Fatalf("%s: %d points, want %d: %v", label, len(pts), len(steps), m)
		}
		for k, st := range steps {
			pt, _ := pts[k].([]any)
			if len(pt) != 2 || pt[0] != float64(t0.Add(st.at).UnixMilli()) || pt[1] != st.want {
				t.Fatalf("%s: point %d = %v, want [%d, %v]", label, k, pts[k], t0.Add(st.at).UnixMilli(), st.want)
			}
		}
		// By the minute: 18 in the first minute, 21.5 in the second and third.
		code, m = getJSON("field=heating&since=1h&step=1m")
		pts, _ = m["points"].([]any)
		if code != 200 || len(pts) != 3 {
			t.Fatalf("%s: step=1m: %d %v", label, code, m)
		}
		for k, want := range [][4]float64{
			{float64(t0.UnixMilli()), 18, 18, 18},
			{float64(t0.Add(time.Minute).UnixMilli()), 21.5, 21.5, 21.5},
			{float64(t0.Add(2 * time.Minute).UnixMilli()), 21.5, 21.5, 21.5},
		} {
			pt, _ := pts[k].([]any)
			if len(pt) != 4 || pt[0] != want[0] || pt[1] != want[1] || pt[2] != want[2] || pt[3] != want[3] {
				t.Fatalf("%s: step=1m bucket %d = %v, want %v", label, k, pts[k], want)
			}
		}
		code, m = getJSON("field=heating&since=1h&format=csv")
		if body, _ := m["body"].(string); code != 200 || body != "time,value\n2026-12-04T00:00:00.000Z,18\n2026-12-04T00:01:30.000Z,21.5\n2026-12-04T00:02:30.000Z,21.5\n" {
			t.Fatalf("%s: csv: %d %q", label, code, m["body"])
		}
	}
	check("live")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, opts)
	serve(s2)
	check("after a reopen")

	// history.fields.heating.disabled: no series, 404.
	cfg, err = config.Parse("th.yaml", []byte(thermostatYAML+`
history:
  fields:
    heating: {disabled: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	off := OptionsFrom(cfg)
	off.Now = clk.Now
	s3 := openT(t, off)
	for _, se := range cfg.Series() {
		s3.Declare(se.Name, se.Unit)
	}
	if s3.Enabled("heating") || s3.Add("heating", clk.Now(), 18) {
		t.Fatal("a disabled thermostat target is recorded")
	}
	serve(s3)
	if code, m := getJSON("field=heating&since=1h"); code != 404 {
		t.Fatalf("disabled: %d %v", code, m)
	}
	if code, _ := getJSON("field=air_temp&since=1h"); code != 200 {
		t.Fatalf("air_temp with heating disabled: %d", code)
	}
}

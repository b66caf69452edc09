package metrics

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/metrics/metricstest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testLayout() Layout {
	return Layout{
		Sensors: []SensorInfo{{ID: "climate", Interval: 2 * time.Second}, {ID: "uno"}},
		Fields: []FieldInfo{
			{ID: "t", Source: "climate", Unit: "°C", Resolution: 0.01},
			{ID: "p", Source: "climate", Unit: "hPa", Resolution: 0.1},
			{ID: "h", Source: "climate", Unit: "%RH", Resolution: 0.1},
			{ID: "rpm", Source: "uno", Unit: "rpm"},
		},
		Outputs: []OutputInfo{{ID: "lamp"}, {ID: "dimmer", PWM: true}},
		Inputs:  []string{"button"},
	}
}

func scrape(t *testing.T, tr *Tracker) *metricstest.Scrape {
	t.Helper()
	r := NewRegistry(nil)
	r.MustRegister(tr.Families()...)
	var buf bytes.Buffer
	if err := r.WritePrometheus(&buf); err != nil {
		t.Fatal(err)
	}
	return metricstest.Parse(t, buf.Bytes())
}

func want(t *testing.T, s *metricstest.Scrape, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := s.Value(name, labels...)
	if !ok || got != v {
		t.Errorf("%s%v = %v (present %v), want %v\n%s", name, labels, got, ok, v, s)
	}
}

func absent(t *testing.T, s *metricstest.Scrape, name string, labels ...string) {
	t.Helper()
	if v, ok := s.Value(name, labels...); ok {
		t.Errorf("%s%v = %v, want no sample\n%s", name, labels, v, s)
	}
}

func TestTrackerSensorsOutputsInputs(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	var mu sync.Mutex
	snap := map[string]any{"lamp": false, "dimmer": 0.0, "button": true}
	tr := NewTracker(testLayout(), func() map[string]any {
		mu.Lock()
		defer mu.Unlock()
		m := map[string]any{}
		for k, v := range snap {
			m[k] = v
		}
		return m
	}, c.now)

	s := scrape(t, tr)
	want(t, s, 0, "meshbox_sensor_up", "sensor", "climate") // nothing read yet
	absent(t, s, "meshbox_temperature_celsius")
	want(t, s, 0, "meshbox_output_on", "output", "lamp")
	want(t, s, 0, "meshbox_output_duty_ratio", "output", "dimmer")
	absent(t, s, "meshbox_output_duty_ratio", "output", "lamp")
	want(t, s, 1, "meshbox_input_active", "input", "button")

	tr.Reading("climate", map[string]any{"t": 21.53, "p": 1013.2, "h": 45.5}, c.now())
	tr.Reading("uno", map[string]any{"rpm": 1200.0, "ok": true, "msg": "text"}, c.now())
	s = scrape(t, tr)
	want(t, s, 1, "meshbox_sensor_up", "sensor", "climate")
	want(t, s, 21.53, "meshbox_temperature_celsius", "sensor", "climate", "field", "t")
	want(t, s, 101320, "meshbox_pressure_pascals", "sensor", "climate", "field", "p")
	want(t, s, 0.455, "meshbox_humidity_ratio", "sensor", "climate", "field", "h")
	want(t, s, 1200, "meshbox_sensor_value", "sensor", "uno", "field", "rpm", "unit", "rpm")
	want(t, s, 1, "meshbox_sensor_value", "sensor", "uno", "field", "ok", "unit", "")
	want(t, s, 1, "meshbox_sensor_reads_total", "sensor", "climate")
	want(t, s, 1_800_000_000, "meshbox_sensor_last_reading_timestamp_seconds", "sensor", "climate")

	// A failed read drops the values at once; the error counter says why.
	tr.Failed("climate", c.now())
	s = scrape(t, tr)
	want(t, s, 0, "meshbox_sensor_up", "sensor", "climate")
	want(t, s, 1, "meshbox_sensor_read_errors_total", "sensor", "climate")
	absent(t, s, "meshbox_temperature_celsius", "sensor", "climate")
	want(t, s, 1200, "meshbox_sensor_value", "sensor", "uno", "field", "rpm")

	// Back, then silent: stale after 30 s (3 intervals would be 6 s).
	tr.Reading("climate", map[string]any{"t": 21.6}, c.now())
	c.add(29 * time.Second)
	want(t, scrape(t, tr), 21.6, "meshbox_temperature_celsius", "sensor", "climate", "field", "t")
	c.add(2 * time.Second)
	s = scrape(t, tr)
	want(t, s, 0, "meshbox_sensor_up", "sensor", "climate")
	want(t, s, 1, "meshbox_sensor_read_errors_total", "sensor", "climate") // stale, not failing
	absent(t, s, "meshbox_temperature_celsius", "sensor", "climate")
	want(t, s, 1, "meshbox_sensor_up", "sensor", "uno") // serial: never stale

	// On-time: lamp on for 10 s, then off; dimmer on at 40 %.
	tr.State("lamp", true, c.now())
	mu.Lock()
	snap["lamp"], snap["dimmer"] = true, 40.0
	mu.Unlock()
	tr.State("dimmer", 40.0, c.now())
	c.add(10 * time.Second)
	s = scrape(t, tr)
	want(t, s, 1, "meshbox_output_on", "output", "lamp")
	want(t, s, 10, "meshbox_output_on_seconds_total", "output", "lamp")
	want(t, s, 0.4, "meshbox_output_duty_ratio", "output", "dimmer")
	want(t, s, 1, "meshbox_output_on", "output", "dimmer")
	tr.State("lamp", false, c.now())
	c.add(5 * time.Second)
	s = scrape(t, tr)
	want(t, s, 10, "meshbox_output_on_seconds_total", "output", "lamp")
	want(t, s, 15, "meshbox_output_on_seconds_total", "output", "dimmer")
	tr.State("nosuch", true, c.now()) // ignored
}

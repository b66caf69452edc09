package bridge

import (
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
)

// TestSensorFilters: a field's filters run on each reading before it
// becomes a metric (calibrate then clamp; delta drops unchanged values).
func TestSensorFilters(t *testing.T) {
	cfg := &config.Config{Sensors: []config.Sensor{{ID: "air", Driver: "sht3x", Interval: 10 * time.Millisecond,
		Fields: []config.Field{
			{Name: "t", Source: "temperature", Scale: 1, Filters: []config.Filter{
				{Calibrate: [][]float64{{0, 0}, {10, 20}}}, {Clamp: []float64{0, 30}}}},
			{Name: "h", Source: "humidity", Scale: 1, Filters: []config.Filter{{Delta: 5}}},
		}}}}
	s := &fakeSensor{vals: map[string]float64{"temperature": 21, "humidity": 40}}
	open := func(gpio.Host, config.Sensor) (SensorReader, error) { return s, nil }
	_, m := newTest(t, cfg, newFakeHost(), Options{OpenSensor: open})
	f := m.wait(t, "first metrics", isMsg("metrics", "source", "air"))
	if f["t"] != 30.0 || f["h"] != 40.0 {
		t.Fatalf("first frame %v: want t 30 (21*2 clamped), h 40", f)
	}
	f = m.wait(t, "second metrics", func(f map[string]any) bool { return isMsg("metrics", "source", "air")(f) && f["h"] == nil })
	if f["t"] != 30.0 {
		t.Fatalf("second frame %v", f)
	}
}

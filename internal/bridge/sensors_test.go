package bridge

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
)

func TestSensorMetricsAndBackoff(t *testing.T) {
	cfg := &config.Config{Sensors: []config.Sensor{
		{ID: "climate", Driver: "sht3x", Interval: 10 * time.Millisecond},
		{ID: "light", Driver: "bh1750", Interval: 10 * time.Millisecond,
			Fields: []config.Field{{Name: "lux", Source: "lux", Scale: 2}}},
	}}
	climate := &fakeSensor{vals: map[string]float64{"temperature": 21.5, "humidity": 40}}
	light := &fakeSensor{vals: map[string]float64{"lux": 100, "ignored": 1}}
	open := func(_ gpio.Host, s config.Sensor) (SensorReader, error) {
		if s.ID == "climate" {
			return climate, nil
		}
		return light, nil
	}
	b, m := newTest(t, cfg, newFakeHost(), Options{OpenSensor: open})
	f := m.wait(t, "climate metrics", isMsg("metrics", "source", "climate"))
	if f["climate_temperature"] != 21.5 || f["climate_humidity"] != 40.0 || len(f) != 4 {
		t.Errorf("climate frame = %v", f)
	}
	f = m.wait(t, "light metrics", isMsg("metrics", "source", "light"))
	if f["lux"] != 200.0 || len(f) != 3 {
		t.Errorf("light frame = %v", f)
	}
	// Failure: reported, retried with growing delays, never fatal.
	climate.setFail(errors.New("i2c: no ack"))
	e1 := m.wait(t, "error", isMsg("sensor_error", "source", "climate"))
	e2 := m.wait(t, "error", isMsg("sensor_error", "source", "climate"))
	if e1["error"] != "i2c: no ack" || e2["retry_ms"].(float64) <= e1["retry_ms"].(float64) {
		t.Errorf("errors %v then %v: want growing retry_ms", e1, e2)
	}
	climate.setFail(nil)
	m.wait(t, "recovered", isMsg("metrics", "source", "climate"))
	if s := b.Stats(); s.SensorErrors < 2 || s.SensorReads < 3 {
		t.Errorf("stats %+v", s)
	}
	_, snap := b.Snapshot()
	if snap["climate_temperature"] != 21.5 || snap["lux"] != 200.0 {
		t.Errorf("snapshot %v", snap)
	}
}

func TestSensorOpenFailureRetried(t *testing.T) {
	cfg := &config.Config{Sensors: []config.Sensor{{ID: "gone", Driver: "bme280", Interval: 5 * time.Millisecond}}}
	opens := make(chan struct{}, 16)
	open := func(gpio.Host, config.Sensor) (SensorReader, error) {
		opens <- struct{}{}
		return nil, errors.New("no such bus")
	}
	_, m := newTest(t, cfg, newFakeHost(), Options{OpenSensor: open})
	e := m.wait(t, "error", isMsg("sensor_error", "source", "gone"))
	if e["error"] != "open: no such bus" {
		t.Errorf("error = %v", e)
	}
	m.wait(t, "second error", isMsg("sensor_error", "source", "gone"))
	if len(opens) < 1 {
		t.Error("not reopened")
	}
}

func TestSensorMetricsMapping(t *testing.T) {
	s := config.Sensor{ID: "p", Fields: []config.Field{{Name: "v", Source: "voltage", Scale: 1000}, {Name: "i"}}}
	got := SensorMetrics(s, map[string]float64{"voltage": 1.5, "i": math.NaN(), "x": 3})
	if len(got) != 1 || got["v"] != 1500.0 {
		t.Errorf("SensorMetrics = %v", got)
	}
}

// Readings are rounded to the driver field's resolution, scaled with the
// field, in broadcasts and the snapshot alike.
func TestSensorMetricsRounding(t *testing.T) {
	all := SensorMetrics(config.Sensor{ID: "c", Driver: "bme280"}, map[string]float64{"temperature": 21.456789, "pressure": 1013.256789})
	if all["c_temperature"] != 21.46 || all["c_pressure"] != 1013.26 {
		t.Errorf("default fields = %v", all)
	}
	s := config.Sensor{ID: "c", Driver: "bme280", Fields: []config.Field{
		{Name: "t_f", Source: "temperature", Scale: 1.8, Offset: 32}, // 0.018 °F steps: two decimals
		{Name: "p_pa", Source: "pressure", Scale: 100},               // 1 Pa steps
	}}
	got := SensorMetrics(s, map[string]float64{"temperature": 21.456789, "pressure": 1013.256789})
	if got["t_f"] != 70.62 || got["p_pa"] != 101326.0 {
		t.Errorf("scaled fields = %v", got)
	}
	for _, c := range Controls(&config.Config{Sensors: []config.Sensor{s}}) {
		if c.Resolution == 0 {
			t.Errorf("control %s has no resolution", c.ID)
		}
	}
}

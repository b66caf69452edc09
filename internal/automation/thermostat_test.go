package automation

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

const heating = `
thermostats:
  - id: heating
    sensor: air_temp
    output: heater
    mode: heat
    target: 20
    deadband: 0.5
    min_on: 5m
    min_off: 5m
    stale: 60s
    range: [5, 30]
`

func TestThermostatHysteresisAndMinTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, heating, allOff)
		r.wantState("heating", "waiting")
		r.air(19.6, 50) // inside the band at start: keeps the heater as it is
		r.expect()
		r.air(19.4, 50)
		r.expect("heater=true")
		r.wantState("heating", "heating")
		r.air(20.4, 50)
		r.expect()
		// Above target+deadband after 1 minute: min_on holds it until 5m.
		r.wait(50 * time.Second)
		r.air(20.6, 50)
		r.expect()
		if s := r.status("heating"); s.Detail == "" {
			t.Errorf("no min_on detail: %+v", s)
		}
		for i := 0; i < 7; i++ {
			r.wait(30 * time.Second)
			r.air(20.7, 50)
		}
		r.expect()
		r.wait(40 * time.Second) // 5m after switching on
		r.expect("heater=false")
		r.wantState("heating", "idle")
		// Cold again at once: min_off waits 5 minutes.
		r.air(18, 50)
		r.expect()
		for i := 0; i < 9; i++ {
			r.wait(30 * time.Second)
			r.air(18, 50)
		}
		r.expect()
		r.wait(30 * time.Second)
		r.expect("heater=true")
	})
}

func TestThermostatStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, heating, allOff)
		r.air(15, 50)
		r.expect("heater=true")
		r.wait(60 * time.Second)
		r.expect("heater=false") // stale overrides min_on
		r.wantState("heating", "stale")
		r.wantLog(`thermostat fail-safe: sensor stale; output off" thermostat=heating`)
		r.air(15, 50)
		r.expect() // min_off since it went off
		r.wantState("heating", "idle")
		r.wait(4*time.Minute + 30*time.Second)
		r.air(15, 50)
		r.wait(30 * time.Second)
		r.expect("heater=true")
		r.sensorError("air")
		r.expect("heater=false")
		r.wantState("heating", "stale")
	})
}

func TestThermostatCoolAndTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, `
thermostats:
  - {id: cooling, sensor: air_temp, output: vent_fan, mode: cool, target: 25, deadband: 1}
`, allOff)
		r.air(26.5, 40)
		r.expect("vent_fan=true")
		r.wantState("cooling", "cooling")
		r.air(24.5, 40)
		r.expect()
		r.air(23.9, 40)
		r.expect("vent_fan=false")
		// A phone sets the target (in range); out of range is refused.
		if v, err := r.e.Set(t.Context(), "cooling", "22", "phone"); err != nil || v != 22.0 {
			t.Fatalf("set target: %v %v", v, err)
		}
		if r.e.Controls()["cooling"] != 22.0 {
			t.Errorf("controls %v", r.e.Controls())
		}
		r.air(23.9, 40)
		r.expect("vent_fan=true")
		if _, err := r.e.Set(t.Context(), "cooling", 31, "phone"); !errors.Is(err, ErrBadValue) {
			t.Errorf("out of range: %v", err)
		}
		if _, err := r.e.Set(t.Context(), "cooling", "warm", "phone"); !errors.Is(err, ErrBadValue) {
			t.Errorf("not a number: %v", err)
		}
	})
}

func TestThermostatOverride(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, `
thermostats:
  - {id: heating, sensor: air_temp, output: heater, target: 20}
  - {id: pumping, sensor: air_humidity, output: pump, target: 50, mode: cool, override: 30m, range: [0, 100]}
`, allOff)
		r.air(22, 40)
		r.expect()
		// The phone switches the heater on while it is warm: override until
		// the next transition (it gets cold: demand on; then warm: off).
		r.state("heater", true)
		r.wantState("heating", "override")
		r.air(22, 40)
		r.expect()
		r.air(19, 40) // transition: demand on; the heater is on already
		r.expect()
		r.wantState("heating", "heating")
		r.air(21, 40)
		r.expect("heater=false")
		// With override: 30m the thermostat takes over after 30 minutes.
		r.air(21, 60)
		r.expect("pump=true")
		r.state("pump", false)
		r.wantState("pumping", "override")
		for i := 0; i < 59; i++ {
			r.wait(30 * time.Second)
			r.air(21, 60)
		}
		r.expect()
		r.wait(30 * time.Second)
		r.expect("pump=true")
	})
}

func TestThermostatRefusedRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, heating, allOff)
		r.fake.setRefuse("heater", errors.New("rate limited"))
		r.air(15, 50)
		r.expect("heater=true")
		r.wantLog(`thermostat switch refused" thermostat=heating`)
		if s := r.status("heating"); s.Error != "rate limited" {
			t.Errorf("status %+v", s)
		}
		r.fake.setRefuse("heater", nil)
		r.wait(retryRefused)
		r.expect("heater=true")
	})
}

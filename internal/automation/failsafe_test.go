package automation

import (
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// published records what OnStatus hands the box: the read-only controls
// (StatusValues) as a phone would see them.
type published struct {
	mu sync.Mutex
	v  map[string]any
}

func (p *published) opt() rigOpt {
	return func(o *Options) {
		o.OnStatus = func(s Status) {
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, sv := range StatusValues(s, time.UTC) {
				p.v[sv.ID] = sv.Value
			}
		}
	}
}

func (p *published) get(id string) any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.v[id]
}

const staleVentRule = `
automations:
  - id: vent_humid
    when: "air_humidity > 80"
    stale: 60s
    do:   [{set: vent_fan, value: true}]
    else: [{set: vent_fan, value: false}]
`

// TestNaNReadingFailSafe: a NaN reading (the bridge drops them, so it is
// fed to the engine directly) puts the outputs that depend on the field in
// their safe state, with a warning in the log and a "stale" status.
func TestNaNReadingFailSafe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pub := &published{v: map[string]any{}}
		r := start(t, staleVentRule+heating, allOff, pub.opt())
		r.air(15, 90)
		r.expectAny("vent_fan=true", "heater=true")
		r.wantState("vent_humid", "active")
		r.wantState("heating", "heating")

		r.air(15, math.NaN())
		r.expect("vent_fan=false") // the thermostat's air_temp is still fine
		r.wantState("vent_humid", "stale")
		r.wantState("heating", "heating")
		r.wantLog(`automation fail-safe: sensor stale; outputs to their safe state" rule=vent_humid sensors="air_humidity (NaN)" outputs=vent_fan`)
		if got := pub.get(StatusID("vent_humid")); got != "stale" {
			t.Errorf("published vent_humid_status %v, want stale", got)
		}

		r.air(math.NaN(), math.NaN())
		r.expect("heater=false") // min_on notwithstanding
		r.wantState("heating", "stale")
		r.wantLog(`thermostat fail-safe: sensor stale; output off" thermostat=heating sensor="air_temp (NaN)" output=heater`)
		if got := pub.get(StatusID("heating")); got != "stale" {
			t.Errorf("published heating_status %v, want stale", got)
		}
		// A NaN reading does not count as fresh: still stale, nothing on.
		r.wait(30 * time.Second)
		r.air(math.NaN(), math.NaN())
		r.expect()
		r.wantState("vent_humid", "stale")
		r.wantState("heating", "stale")
	})
}

// filtered has a timeout: filter on each field, shorter than the stale:
// of the rule and the thermostat that read them (both 60s).
const filtered = `
outputs:
  - {id: vent_fan, pin: 17}
  - {id: heater, pin: 27}
sensors:
  - id: air
    driver: sht3x
    interval: 5s
    fields:
      - {name: air_temp, source: temperature, filters: [{timeout: 10s}]}
      - {name: air_humidity, source: humidity, filters: [{timeout: 10s}]}
thermostats:
  - {id: heating, sensor: air_temp, output: heater, target: 20, stale: 60s}
` + staleVentRule

// TestTimeoutFilterStaleSooner: a field's timeout: filter makes it stale
// for rules and thermostats after the timeout, before their own stale:;
// the same wiring without the filter waits for stale:.
func TestTimeoutFilterStaleSooner(t *testing.T) {
	for _, tc := range []struct {
		name  string
		yaml  string
		stale time.Duration
	}{
		{"timeout filter", filtered, 10 * time.Second},
		{"no filter", stripFilters(filtered), 60 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := startYAML(t, tc.yaml, map[string]any{"vent_fan": false, "heater": false})
				r.air(15, 90)
				r.expectAny("vent_fan=true", "heater=true")
				r.wait(tc.stale - time.Second)
				r.expect()
				r.wantState("vent_humid", "active")
				r.wantState("heating", "heating")
				r.wait(time.Second)
				r.expectAny("vent_fan=false", "heater=false")
				r.wantState("vent_humid", "stale")
				r.wantState("heating", "stale")
				r.wantLog(`rule=vent_humid sensors="air_humidity (no reading for ` + tc.stale.String() + `)"`)
				r.wantLog(`thermostat=heating sensor="air_temp (no reading for ` + tc.stale.String() + `)"`)
			})
		})
	}
}

func stripFilters(yaml string) string {
	return strings.ReplaceAll(yaml, ", filters: [{timeout: 10s}]", "")
}

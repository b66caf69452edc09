package automation

import (
	"testing"
	"testing/synctest"
	"time"
)

const ventRule = `
automations:
  - id: vent_humid
    when: "air_humidity > 80"
    for: 30s
    do:   [{set: vent_fan, value: true}]
    else: [{set: vent_fan, value: false}]
`

func TestWhenForAndElse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, ventRule, allOff)
		r.air(20, 50)
		r.expect("vent_fan=false") // at start the rule says what holds now
		r.air(20, 85)
		r.wait(29 * time.Second)
		r.expect() // not yet: for 30s
		r.wantState("vent_humid", "waiting")
		r.air(20, 86)
		r.wait(time.Second)
		r.expect("vent_fan=true")
		r.wantState("vent_humid", "active")
		r.air(20, 90) // still true: no new edge
		r.expect()
		r.air(20, 70)
		r.expect("vent_fan=false")
		// A blip shorter than for: does nothing.
		r.air(20, 85)
		r.wait(10 * time.Second)
		r.air(20, 60)
		r.wait(30 * time.Second)
		r.expect()
		r.wantLog(`rule=vent_humid action="set vent_fan true"`)
	})
}

// TestOwnChangeNoLoop: a rule whose action makes its own condition false
// does not flip back and forth.
func TestOwnChangeNoLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, `
automations:
  - id: keep_on
    when: "!vent_fan"
    do:   [{set: vent_fan, value: true}]
    else: [{set: vent_fan, value: false}]
`, allOff)
		r.wait(time.Minute)
		r.expect("vent_fan=true")
		// Someone else switches it off: a real edge, the rule acts again.
		r.state("vent_fan", false)
		r.expect("vent_fan=true")
		r.wait(time.Minute)
		r.expect()
	})
}

func TestWhenInputAndNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, `
automations:
  - id: door_left_open
    when: "door"
    for: 2m
    do: [{notify: "Door open for 2 minutes"}]
`, allOff)
		r.state("door", true)
		r.wait(119 * time.Second)
		if len(r.getNotes()) != 0 {
			t.Fatalf("notified early: %v", r.getNotes())
		}
		r.wait(time.Second)
		if len(r.getNotes()) != 1 || r.getNotes()[0] != "door_left_open: Door open for 2 minutes" {
			t.Fatalf("notes %v", r.getNotes())
		}
		r.state("door", false)
		r.state("door", true)
		r.wait(3 * time.Minute)
		if len(r.getNotes()) != 2 {
			t.Fatalf("notes %v", r.getNotes())
		}
	})
}

func TestFailSafe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, `
automations:
  - id: vent_humid
    when: "air_humidity > 80"
    stale: 60s
    do:   [{set: vent_fan, value: true}]
`, allOff)
		r.air(20, 90)
		r.expect("vent_fan=true")
		// No reading for 60s: stale -> the fan goes to its safe state (off).
		r.wait(59 * time.Second)
		r.expect()
		r.wait(time.Second)
		r.expect("vent_fan=false")
		r.wantState("vent_humid", "stale")
		r.wantLog(`automation fail-safe: sensor stale; outputs to their safe state" rule=vent_humid`)
		// Fresh again: the rule resumes from "unknown" and acts on what holds.
		r.air(20, 90)
		r.expect("vent_fan=true")
		r.wantState("vent_humid", "active")
		// A read error: safe state at once.
		r.sensorError("air")
		r.expect("vent_fan=false")
		r.wantState("vent_humid", "stale")
		r.air(20, 90)
		r.expect("vent_fan=true")
	})
}

func TestEnableDisableAndControls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, ventRule+`
  - id: night
    at: "22:00"
    do: [{disable: vent_humid}, {set: grow_light, value: 0}]
  - id: morning
    at: "06:00"
    do: [{enable: vent_humid}, {set: grow_light, value: 40}]
`, allOff)
		// Boot at 00:00: the 22:00 schedule (yesterday) is in effect.
		r.expect("grow_light=0")
		if c := r.e.Controls(); c["vent_humid"] != false || c["night"] != true {
			t.Fatalf("controls %v", c)
		}
		r.air(20, 90)
		r.wait(time.Minute)
		r.expect()
		r.wantState("vent_humid", "disabled")
		// A phone enables it: it evaluates now.
		r.air(20, 90)
		if v, err := r.e.Set(t.Context(), "vent_humid", "true", "phone"); err != nil || v != true {
			t.Fatalf("set: %v %v", v, err)
		}
		r.wait(30 * time.Second)
		r.expect("vent_fan=true")
		if r.ctrl("vent_humid") != true {
			t.Errorf("OnControl %v", r.ctrl("vent_humid"))
		}
		if _, err := r.e.Set(t.Context(), "vent_humid", 3.5, "phone"); err == nil {
			t.Error("accepted 3.5 for enabled")
		}
		if _, err := r.e.Set(t.Context(), "nope", true, "phone"); err == nil {
			t.Error("accepted an unknown id")
		}
		// 06:00: morning runs (the fan went to its safe state when the
		// readings stopped).
		r.wait(6*time.Hour - 90*time.Second)
		r.expect("vent_fan=false", "grow_light=40")
	})
}

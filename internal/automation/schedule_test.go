package automation

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // Europe/Berlin for the DST tests, whatever the host has

	"github.com/meshbox/meshbox/internal/sun"
)

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func wantTimes(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("fired at\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestAtAcrossDST: 06:30 local every day, through both DST changes.
func TestAtAcrossDST(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		loc := berlin(t)
		sleepUntil(time.Date(2026, 3, 28, 0, 0, 0, 0, loc))
		r := start(t, `
automations:
  - id: morning
    at: "06:30"
    do: [{notify: morning}]
  - id: night
    at: "02:30"
    do: [{notify: night}]
`, allOff, withLocation(loc))
		r.wait(48 * time.Hour)
		// 02:30 does not exist on 29 March (02:00 -> 03:00): it runs at 03:30.
		wantTimes(t, r.noteTimes(loc),
			"2026-03-28 02:30:00 CET", "2026-03-28 06:30:00 CET",
			"2026-03-29 03:30:00 CEST", "2026-03-29 06:30:00 CEST")
		if n := r.status("morning").Next; !n.Equal(time.Date(2026, 3, 30, 6, 30, 0, 0, loc)) {
			t.Errorf("next %s", n)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		loc := berlin(t)
		sleepUntil(time.Date(2026, 10, 24, 12, 0, 0, 0, loc))
		r := start(t, `
automations:
  - id: morning
    at: "06:30"
    do: [{notify: morning}]
`, allOff, withLocation(loc))
		r.wait(48 * time.Hour)
		// The 25-hour day: still 06:30 on the wall clock.
		wantTimes(t, r.noteTimes(loc), "2026-10-25 06:30:00 CET", "2026-10-26 06:30:00 CET")
	})
}

func TestCronWeekdays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		loc := berlin(t)
		sleepUntil(time.Date(2026, 3, 27, 0, 0, 0, 0, loc)) // a Friday
		r := start(t, `
automations:
  - id: weekdays
    cron: "30 6 * * 1-5"
    do: [{notify: up}]
`, allOff, withLocation(loc))
		r.wait(4 * 24 * time.Hour)
		wantTimes(t, r.noteTimes(loc), "2026-03-27 06:30:00 CET", "2026-03-30 06:30:00 CEST")
	})
}

func TestSunriseSunset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		loc := berlin(t)
		day := time.Date(2024, 7, 15, 0, 0, 0, 0, loc)
		sleepUntil(day)
		r := start(t, `
location: {lat: 49.734839, lon: 11.156555}
automations:
  - id: dawn
    sunrise: "-20m"
    do: [{notify: dawn}]
  - id: dusk
    sunset: "+10m"
    do: [{notify: dusk}]
`, allOff, withLocation(loc))
		r.wait(24 * time.Hour)
		ev := sun.On(day, 49.734839, 11.156555)
		f := "2006-01-02 15:04:05 MST"
		wantTimes(t, r.noteTimes(loc), ev.Sunrise.Add(-20*time.Minute).Format(f), ev.Sunset.Add(10*time.Minute).Format(f))
		// NOAA: sunrise 05:24:56, sunset 21:17:56 CEST that day.
		if got := r.noteTimes(loc); len(got) != 2 || !strings.HasPrefix(got[0], "2024-07-15 05:04") || !strings.HasPrefix(got[1], "2024-07-15 21:2") {
			t.Errorf("times %v", got)
		}
	})
}

func TestBootAndEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, `
automations:
  - id: hello
    on: boot
    do: [{notify: started}]
  - id: flush
    every: 10m
    do: [{pulse: pump, length: 1m}]
`, allOff)
		if len(r.getNotes()) != 1 || r.getNotes()[0] != "hello: started" {
			t.Fatalf("notes %v", r.getNotes())
		}
		r.wait(10 * time.Minute)
		r.expect("pump=true")
		r.wait(time.Minute)
		r.expect("pump=false")
		r.wait(9 * time.Minute)
		r.expect("pump=true")
		// Disabled: no more runs; the running pulse still ends off.
		if _, err := r.e.Set(t.Context(), "flush", false, "phone"); err != nil {
			t.Fatal(err)
		}
		r.wait(time.Hour)
		r.expect("pump=false")
	})
}

// TestClockInvalid: schedules are skipped while the clock is not
// synchronised, with a warning and a status; once it is, the engine
// recomputes what they say now.
func TestClockInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sleepUntil(time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC))
		r := startInvalid(t, `
automations:
  - id: morning_light
    at: "06:30"
    do: [{set: grow_light, value: 80}, {delay: 2h}, {set: grow_light, value: 0}]
`)
		r.expect()
		r.wantLog("the system clock is not synchronised; schedules are skipped")
		r.wantState("morning_light", "clock-invalid")
		r.wait(45 * time.Minute)
		r.expect()
		r.wantLog(`schedule skipped: the system clock is not synchronised" rule=morning_light`)
		r.clock.set(true)
		r.wait(time.Minute)
		r.expect("grow_light=80")
		r.wantState("morning_light", "running")
		r.wait(2 * time.Hour)
		r.expect("grow_light=0")
	})
}

func startInvalid(t *testing.T, logic string) *rig {
	t.Helper()
	var c *clockFlag
	r := start(t, logic, allOff, func(o *Options) {
		c = &clockFlag{}
		o.ClockValid = c.get
	})
	r.clock = c
	return r
}

// TestPowerCutRecompute: after a restart the box applies what the
// schedules say now and continues their delays.
func TestPowerCutRecompute(t *testing.T) {
	const logic = `
automations:
  - id: morning_light
    at: "06:30"
    do: [{set: grow_light, value: 80}, {delay: 2h}, {set: grow_light, value: 0}]
  - id: evening
    at: "19:00"
    do: [{set: vent_fan, value: true}, {notify: evening}]
  - id: night
    at: "23:00"
    do: [{set: vent_fan, value: false}]
`
	// Power back at 07:00: the light is on again, and off at 08:30.
	synctest.Test(t, func(t *testing.T) {
		sleepUntil(time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC))
		r := start(t, logic, allOff)
		r.expectAny("grow_light=80", "vent_fan=false")
		r.wantLog(`recomputed after start: continuing" rule=morning_light in=1h30m0s`)
		r.wait(89 * time.Minute)
		r.expect()
		r.wait(time.Minute)
		r.expect("grow_light=0")
		if len(r.getNotes()) != 0 {
			t.Errorf("a past notification was replayed: %v", r.getNotes())
		}
	})
	// Power back at 09:00: the light's schedule is over (off).
	synctest.Test(t, func(t *testing.T) {
		sleepUntil(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
		r := start(t, logic, map[string]any{"grow_light": 80.0, "vent_fan": true})
		r.expectAny("grow_light=0", "vent_fan=false")
	})
	// Power back at 20:00: the fan is on (evening), the light off.
	synctest.Test(t, func(t *testing.T) {
		sleepUntil(time.Date(2026, 6, 1, 20, 0, 0, 0, time.UTC))
		r := start(t, logic, allOff)
		r.expectAny("grow_light=0", "vent_fan=true")
	})
}

func TestActions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, `
serial:
  - id: mcu
    port: /dev/ttyUSB0
    commands: {beep: "BEEP {{value}}"}
automations:
  - id: seq
    when: "door"
    do:
      - {pulse: strike}
      - {command: mcu.beep, value: 3}
      - {delay: 10s}
      - {command: all_off}
      - {set: grow_light, value: 55}
    else: [{set: grow_light, value: 0}]
`, allOff)
		r.expect("grow_light=0")
		r.state("door", true)
		r.expect("strike=true", "mcu.beep=3")
		r.wait(10 * time.Second)
		r.expect("grow_light=55")
		if r.fake.allOffCount() != 1 {
			t.Errorf("all_off %d", r.fake.allOffCount())
		}
		// Else cancels a running sequence.
		r.state("door", false)
		r.expect("grow_light=0")
		r.state("door", true)
		r.expect("strike=true", "mcu.beep=3")
		r.state("door", false)
		r.expect("grow_light=0")
		r.wait(time.Minute)
		r.expect()
	})
}

// TestLoopGuard: two rules feeding each other stop after a bounded number
// of runs.
func TestLoopGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, `
automations:
  - id: a
    when: "vent_fan"
    do: [{set: pump, value: true}]
    else: [{set: pump, value: false}]
  - id: b
    when: "pump"
    do: [{set: vent_fan, value: false}]
    else: [{set: vent_fan, value: true}]
`, allOff)
		r.wait(time.Second)
		n := len(r.fake.take())
		if n > 4*maxRunsPerMinute {
			t.Errorf("%d applies", n)
		}
		r.wantLog("too many runs; skipped")
	})
}

func TestNext(t *testing.T) {
	loc := berlin(t)
	cfg := mustConfig(t, `
location: {lat: 49.734839, lon: 11.156555}
automations:
  - {id: a, at: "06:30", do: [{notify: x}]}
  - {id: c, cron: "0 7 * * 1", do: [{notify: x}]}
  - {id: s, sunset: "0", do: [{notify: x}]}
  - {id: w, when: "door", do: [{notify: x}]}
`)
	now := time.Date(2024, 7, 15, 12, 0, 0, 0, loc) // a Monday
	n := Next(cfg, now, loc)
	f := "2006-01-02 15:04 MST"
	if len(n) != 3 || n["a"].Format(f) != "2024-07-16 06:30 CEST" || n["c"].Format(f) != "2024-07-22 07:00 CEST" || n["s"].Format(f) != "2024-07-15 21:17 CEST" {
		t.Errorf("next %v", n)
	}
}

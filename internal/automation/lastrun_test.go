package automation

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestLastRunPublished: an automation's "<id>_last_run" control (what the
// box publishes from OnStatus) says "never" until the rule runs, then the
// run's time, and follows each later run; a thermostat has none.
func TestLastRunPublished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pub := &published{v: map[string]any{}}
		r := start(t, `
automations:
  - id: door_note
    when: "door"
    do: [{notify: "door"}]
`+heating, allOff, pub.opt())
		if got := pub.get(LastRunID("door_note")); got != NeverRun {
			t.Fatalf("before any run: %v, want %q", got, NeverRun)
		}
		if got := pub.get(LastRunID("heating")); got != nil {
			t.Error("a thermostat published a last run")
		}
		r.wait(90 * time.Minute)
		ran := time.Now()
		r.state("door", true)
		if got, want := pub.get(LastRunID("door_note")), ran.UTC().Format("Jan 2 15:04"); got != want {
			t.Errorf("after a run: %v, want %v", got, want)
		}
		if st := r.status("door_note"); !st.LastRun.Equal(ran) {
			t.Errorf("status last run %v, want %v", st.LastRun, ran)
		}
		r.state("door", false)
		r.wait(time.Hour)
		r.state("door", true)
		if got := pub.get(LastRunID("door_note")); got != "Jan 1 02:30" {
			t.Errorf("after the second run: %v, want Jan 1 02:30", got)
		}
	})
}

func TestLastRunText(t *testing.T) {
	if got := LastRunText(time.Time{}, nil); got != NeverRun {
		t.Errorf("zero: %q", got)
	}
	berlin := time.FixedZone("CEST", 2*3600)
	if got := LastRunText(time.Date(2025, 6, 1, 4, 30, 59, 0, time.UTC), berlin); got != "Jun 1 06:30" {
		t.Errorf("in zone: %q", got)
	}
}

// TestLastRunOfAContinuedRun: a schedule continued after a power cut
// (recompute) runs when its remaining delay ends; its last run says so at
// once, not only when the rest of the sequence (more delays) is done.
func TestLastRunOfAContinuedRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Start at 07:00:30: the engine's minute tick (which refreshes
		// every status) then falls at :30, away from the run at 08:30:00.
		sleepUntil(time.Date(2026, 6, 1, 7, 0, 30, 0, time.UTC))
		pub := &published{v: map[string]any{}}
		r := start(t, `
automations:
  - id: morning_light
    at: "06:30"
    do: [{set: grow_light, value: 80}, {delay: 2h}, {set: grow_light, value: 0}, {delay: 1h}, {notify: "done"}]
`, allOff, pub.opt())
		r.expect("grow_light=80") // what the schedule says at 07:00:30
		if got := pub.get(LastRunID("morning_light")); got != NeverRun {
			t.Errorf("before the continued run: %v", got)
		}
		r.wait(90*time.Minute - 20*time.Second) // 08:30:10: the rest runs, a delay is under way
		r.expect("grow_light=0")
		r.wantState("morning_light", "running")
		if got := pub.get(LastRunID("morning_light")); got != "Jun 1 08:30" {
			t.Errorf("while the continued run waits: %v, want Jun 1 08:30", got)
		}
	})
}

package metrics

import (
	"github.com/meshbox/meshbox/internal/bridge"
)

// Kinds are the bridge events Observe uses (for bridge.SubscribeOptions).
func Kinds() []bridge.EventKind {
	return []bridge.EventKind{bridge.EventMetrics, bridge.EventSensorError, bridge.EventState}
}

// Observe feeds one bridge event to the tracker: readings, sensor errors
// and state changes (on-time); other kinds are ignored.
func (t *Tracker) Observe(ev bridge.Event) {
	at := ev.Time
	if at.IsZero() {
		at = t.now()
	}
	switch ev.Kind {
	case bridge.EventMetrics:
		t.Reading(ev.Source, ev.Fields, at)
	case bridge.EventSensorError:
		t.Failed(ev.Source, at)
	case bridge.EventState:
		t.State(ev.ID, ev.Value, at)
	}
}

// Run observes sub's events until it is closed.
func (t *Tracker) Run(sub *bridge.Subscription) {
	for ev := range sub.C() {
		t.Observe(ev)
	}
}

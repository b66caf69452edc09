package automation

import "time"

// StatusID is the read-only control that carries a thermostat's or
// automation's State ("<id>_status"), in snapshots and state frames.
func StatusID(id string) string { return id + "_status" }

// LastRunID is the read-only control that carries when an automation last
// ran its actions ("<id>_last_run"), as LastRunText: the toggle's "last
// run" on the phone and the page, which show a control's value as it is.
func LastRunID(id string) string { return id + "_last_run" }

// NeverRun is LastRunText of an automation that has not run since the box
// started (the last run is not kept across restarts, like the metric).
const NeverRun = "never"

// lastRunLayout is short enough for a one-cell label on a phone; the
// year is left out (the metric has the exact time).
const lastRunLayout = "Jan 2 15:04"

// LastRunText is the value of an automation's LastRunID control: t in loc
// (nil: time.Local), or NeverRun for the zero time.
func LastRunText(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return NeverRun
	}
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format(lastRunLayout)
}

// StatusValue is one read-only control value derived from a Status.
type StatusValue struct {
	ID    string
	Value any
}

// StatusValues are the read-only controls a Status sets, in a fixed
// order: "<id>_status" (State) and, for an automation, "<id>_last_run"
// (LastRunText in loc). The box publishes them from Options.OnStatus;
// the generated layout shows them (internal/layout).
func StatusValues(s Status, loc *time.Location) []StatusValue {
	out := []StatusValue{{StatusID(s.ID), s.State}}
	if s.Kind == "automation" {
		out = append(out, StatusValue{LastRunID(s.ID), LastRunText(s.LastRun, loc)})
	}
	return out
}

package automation

import (
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// Status is what a thermostat or automation is doing, for the page, the
// phone and metrics.
type Status struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"` // thermostat | automation
	Enabled bool   `json:"enabled"`
	// State: thermostat heating | cooling | idle | stale | override |
	// waiting (no reading yet); automation idle | waiting (for:) | active
	// | running | stale | disabled | clock-invalid.
	State   string    `json:"state"`
	Detail  string    `json:"detail,omitempty"`
	Target  *float64  `json:"target,omitempty"`
	LastRun time.Time `json:"last_run,omitzero"`
	Next    time.Time `json:"next,omitzero"`
	Error   string    `json:"error,omitempty"`
}

// status calls OnStatus when st changed.
func (s *state) status(st Status) {
	var last *Status
	if r := s.byID[st.ID]; r != nil && st.Kind == "automation" {
		last = &r.last
	} else if t := s.thByID[st.ID]; t != nil {
		last = &t.last
	}
	if last == nil || equalStatus(*last, st) {
		return
	}
	*last = st
	if s.e.opts.OnStatus != nil {
		s.e.opts.OnStatus(st)
	}
}

func equalStatus(a, b Status) bool {
	if (a.Target == nil) != (b.Target == nil) || (a.Target != nil && *a.Target != *b.Target) {
		return false
	}
	a.Target, b.Target = nil, nil
	return a == b
}

func (r *rule) status(s *state, now time.Time) Status {
	st := Status{ID: r.cfg.ID, Kind: "automation", Enabled: r.enabled, LastRun: r.lastRun, Error: r.lastErr, Detail: r.cfg.TriggerString()}
	switch {
	case !r.enabled:
		st.State = "disabled"
	case r.stale:
		st.State = "stale"
	case r.isSchedule() && !s.clockOK:
		st.State = "clock-invalid"
	case r.run != nil:
		st.State = "running"
	case r.cfg.Trigger == config.TriggerWhen && r.cond == 1 && !r.active:
		st.State = "waiting"
	case r.active:
		st.State = "active"
	default:
		st.State = "idle"
	}
	if r.evalErr != "" && st.Error == "" {
		st.Error = r.evalErr
	}
	if r.skipped != "" && st.Error == "" {
		st.Error = "last occurrence skipped: " + r.skipped
	}
	if r.isSchedule() && r.enabled {
		st.Next = r.next
	}
	return st
}

func (t *thermo) status(s *state, now time.Time) Status {
	target := t.target
	st := Status{ID: t.cfg.ID, Kind: "thermostat", Enabled: true, Target: &target, Error: t.lastErr, Detail: t.hold}
	_, seen := s.fresh[t.cfg.Sensor]
	switch {
	case t.stale:
		st.State = "stale"
	case t.override:
		st.State = "override"
	case !seen:
		st.State = "waiting"
	case t.out == 1 && t.cfg.Mode == config.ModeCool:
		st.State = "cooling"
	case t.out == 1:
		st.State = "heating"
	default:
		st.State = "idle"
	}
	return st
}

func (s *state) statuses(now time.Time) []Status {
	var out []Status
	for _, t := range s.therms {
		out = append(out, t.status(s, now))
	}
	for _, r := range s.rules {
		out = append(out, r.status(s, now))
	}
	return out
}

package automation

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// retryRefused is when a thermostat retries a refused switch (rate limit,
// interlock) if no reading prompts it sooner.
const retryRefused = 10 * time.Second

// thermo is one thermostat's runtime state.
type thermo struct {
	cfg    config.Thermostat
	target float64
	demand int8 // hysteresis state: unknown, 0 off, 1 on
	out    int8 // the output's known state
	cmd    int8 // what the thermostat last commanded and has not seen back
	since  time.Time
	stale  bool
	// override: a phone switched the output; until the next transition of
	// demand, or overrideUntil when override: is set.
	override      bool
	overrideUntil time.Time
	hold          string // why a wanted switch waits (min_on/min_off)
	lastErr       string
	last          Status
}

func (t *thermo) from() string { return "thermostat:" + t.cfg.ID }

func (s *state) evalThermo(t *thermo, now time.Time) {
	defer func() { s.status(t.status(s, now)) }()
	id := t.cfg.ID
	stale, next := s.staleFields([]string{t.cfg.Sensor}, t.cfg.Stale, now)
	if len(stale) > 0 {
		s.clearTimer("tstale:" + id)
		s.clearTimer("hold:" + id)
		if !t.stale {
			t.stale = true
			s.e.log.Warn("thermostat fail-safe: sensor stale; output off", "thermostat", id, "sensor", strings.Join(stale, ", "), "output", t.cfg.Output)
		}
		t.demand, t.override, t.hold = unknown, false, ""
		if t.out != 0 && t.cmd != 0 {
			s.switchThermo(t, false)
		}
		return
	}
	if !next.IsZero() {
		s.setTimer("tstale:"+id, next, func(now time.Time) { s.evalThermo(t, now) })
	}
	v, ok := s.value(t.cfg.Sensor)
	if !ok {
		return
	}
	if t.stale {
		t.stale = false
		s.e.log.Info("thermostat: sensor fresh again", "thermostat", id)
	}
	temp := v.(float64)
	lo, hi := t.target-t.cfg.Deadband, t.target+t.cfg.Deadband
	want := t.demand
	if t.cfg.Mode == config.ModeCool {
		switch {
		case temp > hi:
			want = 1
		case temp < lo:
			want = 0
		}
	} else {
		switch {
		case temp < lo:
			want = 1
		case temp > hi:
			want = 0
		}
	}
	if want == unknown { // inside the band at start: keep what the output does
		want = max(t.out, 0)
	}
	if want != t.demand {
		if t.override && t.demand != unknown {
			t.override = false
			s.clearTimer("override:" + id)
			s.e.log.Info("thermostat: override ends at the next transition", "thermostat", id)
		}
		t.demand = want
	}
	if t.override {
		return
	}
	if t.out == want || t.cmd == want {
		t.hold = ""
		s.clearTimer("hold:" + id)
		return
	}
	if t.out != unknown && !t.since.IsZero() {
		minD, what := t.cfg.MinOff, "min_off"
		if t.out == 1 {
			minD, what = t.cfg.MinOn, "min_on"
		}
		if until := t.since.Add(minD); now.Before(until) {
			t.hold = fmt.Sprintf("%s until %s", what, until.In(s.e.loc).Format(time.TimeOnly))
			s.setTimer("hold:"+id, until, func(now time.Time) { s.evalThermo(t, now) })
			return
		}
	}
	t.hold = ""
	s.switchThermo(t, want == 1)
}

// switchThermo commands the output (on its own goroutine) and hears back.
func (s *state) switchThermo(t *thermo, on bool) {
	t.cmd = b2i(on)
	e, ctx := s.e, s.ctx
	s.e.log.Info("thermostat switches", "thermostat", t.cfg.ID, "output", t.cfg.Output, "on", on, "target", t.target)
	e.runs.Add(1)
	go func() {
		defer e.runs.Done()
		_, err := e.opts.Actuator.Apply(ctx, t.cfg.Output, on, t.from())
		if ctx.Err() != nil {
			return
		}
		_ = e.post(ctx, func() {
			now := time.Now()
			if err != nil {
				t.lastErr = err.Error()
				s.e.log.Warn("thermostat switch refused", "thermostat", t.cfg.ID, "output", t.cfg.Output, "on", on, "err", err)
				if t.cmd == b2i(on) {
					t.cmd = unknown
				}
				s.setTimer("retry:"+t.cfg.ID, now.Add(retryRefused), func(now time.Time) { s.evalThermo(t, now) })
			} else {
				t.lastErr = ""
			}
			s.status(t.status(s, now))
		})
	}()
}

// thermoOutput hears the output's state: its own command coming back, or
// someone else (a phone) switching it: an override.
func (s *state) thermoOutput(t *thermo, v any, now time.Time) {
	on, ok := toBool(v)
	if !ok {
		return
	}
	nv := b2i(on)
	if t.out != unknown && t.out != nv {
		t.since = now
	}
	t.out = nv
	if t.cmd == nv {
		t.cmd = unknown
		s.status(t.status(s, now))
		return
	}
	t.cmd = unknown
	if t.demand != unknown && nv != t.demand && !t.stale {
		t.override = true
		t.overrideUntil = time.Time{}
		how := "until the next transition"
		if d := t.cfg.Override; d > 0 {
			t.overrideUntil = now.Add(d)
			how = "for " + d.String()
			s.setTimer("override:"+t.cfg.ID, t.overrideUntil, func(now time.Time) {
				t.override = false
				s.e.log.Info("thermostat: override over", "thermostat", t.cfg.ID)
				s.evalThermo(t, now)
			})
		}
		s.e.log.Info("thermostat overridden: the output was switched by someone else", "thermostat", t.cfg.ID, "output", t.cfg.Output, "on", on, "override", how)
	}
	s.evalThermo(t, now)
}

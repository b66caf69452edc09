package automation

import (
	"context"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/robfig/cron/v3"

	"github.com/meshbox/meshbox/internal/config"
)

// rule is one automation's runtime state.
type rule struct {
	cfg     config.Automation
	prog    *vm.Program
	names   []string // values When reads
	sensors []string // the sensor fields among them
	outputs []string // outputs Do/Else set or pulse (fail-safe)
	cron    cron.Schedule

	enabled bool
	cond    int8 // unknown, 0, 1
	active  bool // Do ran and Else has not
	stale   bool
	evalErr string
	own     map[string]any // values this rule wrote and has not seen back
	run     *run
	next    time.Time // schedules: next occurrence
	lastRun time.Time
	lastErr string
	runs    []time.Time // recent starts (loop guard)
	skipped string      // why the last occurrence was skipped
	last    Status
}

type run struct {
	cancel context.CancelFunc
}

func (r *rule) isSchedule() bool {
	switch r.cfg.Trigger {
	case config.TriggerAt, config.TriggerCron, config.TriggerSunrise, config.TriggerSunset:
		return true
	}
	return false
}

func (r *rule) from() string { return "automation:" + r.cfg.ID }

// evalRule re-evaluates a when: rule. self is true when the change that
// prompted it was this rule's own write: the rule then adopts the new
// value without acting (no loop).
func (s *state) evalRule(r *rule, now time.Time, self bool) {
	if r.cfg.Trigger != config.TriggerWhen || !r.enabled {
		return
	}
	defer func() { s.status(r.status(s, now)) }()
	stale, next := s.staleFields(r.sensors, r.cfg.Stale, now)
	if len(stale) > 0 {
		s.ruleStale(r, stale, now)
		return
	}
	if !next.IsZero() {
		s.setTimer("stale:"+r.cfg.ID, next, func(now time.Time) { s.evalRule(r, now, false) })
	}
	if r.stale {
		r.stale = false
		r.cond, r.active = unknown, false
		s.e.log.Info("automation: sensors fresh again; rule resumes", "rule", r.cfg.ID)
	}
	env := make(map[string]any, len(r.names))
	for _, n := range r.names {
		v, ok := s.value(n)
		if !ok {
			return // not every value is known yet
		}
		env[n] = v
	}
	c, err := evalBool(r.prog, env)
	if err != nil {
		if msg := err.Error(); msg != r.evalErr {
			r.evalErr = msg
			s.e.log.Warn("automation: when cannot be evaluated", "rule", r.cfg.ID, "err", strings.SplitN(msg, "\n", 2)[0])
		}
		return
	}
	r.evalErr = ""
	prev := r.cond
	r.cond = b2i(c)
	if self {
		if !c {
			s.clearTimer("for:" + r.cfg.ID)
		}
		return
	}
	if prev == r.cond {
		return
	}
	if c {
		if r.cfg.For > 0 {
			s.setTimer("for:"+r.cfg.ID, now.Add(r.cfg.For), func(now time.Time) { s.fireDo(r, now) })
			return
		}
		s.fireDo(r, now)
		return
	}
	s.clearTimer("for:" + r.cfg.ID)
	if r.active || prev == unknown {
		r.active = false
		if len(r.cfg.Else) > 0 {
			s.e.log.Info("automation: condition false; else", "rule", r.cfg.ID, "when", r.cfg.When)
			s.startRun(r, r.cfg.Else, 0, now)
		}
	}
}

func (s *state) fireDo(r *rule, now time.Time) {
	defer func() { s.status(r.status(s, now)) }()
	if r.cond != 1 || !r.enabled || r.stale {
		return
	}
	r.active = true
	s.e.log.Info("automation: condition true", "rule", r.cfg.ID, "when", r.cfg.When, "for", r.cfg.For)
	s.startRun(r, r.cfg.Do, 0, now)
}

// ruleStale puts the outputs the rule drives in their safe state (off).
func (s *state) ruleStale(r *rule, stale []string, now time.Time) {
	s.clearTimer("stale:" + r.cfg.ID)
	if r.stale {
		return
	}
	r.stale = true
	s.reset(r)
	s.e.log.Warn("automation fail-safe: sensor stale; outputs to their safe state", "rule", r.cfg.ID,
		"sensors", strings.Join(stale, ", "), "outputs", strings.Join(r.outputs, ", "))
	for _, o := range r.outputs {
		if off, ok := s.offValue(o); ok {
			s.applyAsync(r.from(), r, o, off)
		}
	}
}

// offValue is an output's safe state: off (false, or 0 for pwm);
// momentary outputs have none (they are off after their pulse).
func (s *state) offValue(id string) (any, bool) {
	switch s.kinds[id] {
	case config.KindPWM:
		return 0.0, true
	case config.KindSwitch:
		return false, true
	}
	return nil, false
}

// --- schedules ----------------------------------------------------------

func (s *state) armEvery(r *rule, now time.Time) {
	if !r.enabled {
		return
	}
	s.setTimer("every:"+r.cfg.ID, now.Add(r.cfg.Every), func(now time.Time) {
		s.armEvery(r, now)
		s.e.log.Info("automation: every", "rule", r.cfg.ID, "every", r.cfg.Every)
		s.startRun(r, r.cfg.Do, 0, now)
		s.status(r.status(s, now))
	})
}

func (s *state) armSchedules(now time.Time) {
	for _, r := range s.rules {
		if r.isSchedule() {
			s.arm(r, now)
		}
	}
}

// arm sets r's timer to its next occurrence after now.
func (s *state) arm(r *rule, now time.Time) {
	r.next = s.nextAfter(r, now)
	if r.next.IsZero() {
		s.clearTimer("sched:" + r.cfg.ID)
		return
	}
	s.setTimer("sched:"+r.cfg.ID, r.next, func(now time.Time) { s.fireSchedule(r, now) })
}

func (s *state) fireSchedule(r *rule, now time.Time) {
	at := r.next
	defer func() {
		s.arm(r, maxTime(now, at))
		s.status(r.status(s, now))
	}()
	if !r.enabled {
		return
	}
	if !s.e.valid() {
		r.skipped = "clock not synchronised"
		s.e.log.Warn("automation: schedule skipped: the system clock is not synchronised", "rule", r.cfg.ID, "trigger", r.cfg.TriggerString())
		return
	}
	r.skipped = ""
	s.e.log.Info("automation: schedule", "rule", r.cfg.ID, "trigger", r.cfg.TriggerString(), "at", at.In(s.e.loc).Format(time.DateTime))
	s.startRun(r, r.cfg.Do, 0, now)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// nextAfter is r's first occurrence strictly after t (zero if none within
// a year, e.g. polar night for sunrise).
func (s *state) nextAfter(r *rule, t time.Time) time.Time {
	t = t.In(s.e.loc)
	switch r.cfg.Trigger {
	case config.TriggerAt:
		h, m, sec, _ := config.ParseClock(r.cfg.At)
		y, mo, d := t.Date()
		for i := 0; i < 3; i++ {
			c := time.Date(y, mo, d+i, h, m, sec, 0, s.e.loc)
			if c.After(t) {
				return c
			}
		}
	case config.TriggerCron:
		return r.cron.Next(t)
	case config.TriggerSunrise, config.TriggerSunset:
		y, mo, d := t.Date()
		for i := -1; i < 370; i++ {
			if c, ok := s.sunEvent(r, time.Date(y, mo, d+i, 12, 0, 0, 0, s.e.loc)); ok && c.After(t) {
				return c
			}
		}
	}
	return time.Time{}
}

// prevAtOrBefore is r's latest occurrence at or before t, within 8 days.
func (s *state) prevAtOrBefore(r *rule, t time.Time) (time.Time, bool) {
	t = t.In(s.e.loc)
	lookback := t.Add(-8 * 24 * time.Hour)
	switch r.cfg.Trigger {
	case config.TriggerAt, config.TriggerSunrise, config.TriggerSunset:
		y, mo, d := t.Date()
		for i := 0; i > -9; i-- {
			day := time.Date(y, mo, d+i, 12, 0, 0, 0, s.e.loc)
			var c time.Time
			ok := true
			if r.cfg.Trigger == config.TriggerAt {
				h, m, sec, _ := config.ParseClock(r.cfg.At)
				c = time.Date(y, mo, d+i, h, m, sec, 0, s.e.loc)
			} else {
				c, ok = s.sunEvent(r, day)
			}
			if ok && !c.After(t) {
				return c, !c.Before(lookback)
			}
		}
	case config.TriggerCron:
		var last time.Time
		c := lookback
		for i := 0; i < 20000; i++ {
			n := r.cron.Next(c)
			if n.IsZero() || n.After(t) {
				break
			}
			last, c = n, n
		}
		return last, !last.IsZero()
	}
	return time.Time{}, false
}

// --- power-cut recomputation ---------------------------------------------

type effect struct {
	at    time.Time
	value any
	rule  string
}

// recompute replays each enabled schedule's latest occurrence up to now:
// the values its set (and enable/disable) actions would have left are
// applied (for each target the latest wins), and what is still to come
// (after a delay) continues as a run.
func (s *state) recompute(now time.Time) {
	winners := map[string]effect{}
	var order []string
	type rest struct {
		r    *rule
		acts []config.Action
		wait time.Duration
	}
	var rests []rest
	for _, r := range s.rules {
		if !r.isSchedule() || !r.enabled {
			continue
		}
		p, ok := s.prevAtOrBefore(r, now)
		if !ok {
			continue
		}
		t := p
		for i, a := range r.cfg.Do {
			if a.Delay > 0 {
				t = t.Add(a.Delay)
				if t.After(now) {
					if i+1 < len(r.cfg.Do) {
						rests = append(rests, rest{r, r.cfg.Do[i+1:], t.Sub(now)})
					}
					break
				}
				continue
			}
			target, value := a.Set, a.Value
			switch {
			case a.Enable != "":
				target, value = a.Enable, true
			case a.Disable != "":
				target, value = a.Disable, false
			}
			if target == "" {
				continue // notify, pulse, command: not replayed
			}
			if w, ok := winners[target]; !ok || !t.Before(w.at) {
				if !ok {
					order = append(order, target)
				}
				winners[target] = effect{t, value, r.cfg.ID}
			}
		}
	}
	for _, target := range order {
		w := winners[target]
		r := s.byID[w.rule]
		s.e.log.Info("automation: recomputed after start: what the schedule says now", "rule", w.rule, "target", target,
			"value", w.value, "since", w.at.In(s.e.loc).Format(time.DateTime))
		if _, isOut := s.kinds[target]; isOut {
			s.applyAsync(r.from(), r, target, w.value)
		} else if _, err := s.setControl(target, w.value, r.from(), now); err != nil {
			s.e.log.Warn("automation: recompute refused", "rule", w.rule, "target", target, "err", err)
		}
	}
	for _, x := range rests {
		s.e.log.Info("automation: recomputed after start: continuing", "rule", x.r.cfg.ID, "in", x.wait.Round(time.Second))
		s.startRun(x.r, x.acts, x.wait, now)
	}
}

package automation

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/meshbox/meshbox/internal/config"
)

// tick is how often the engine re-reads the wall clock (clock validity,
// clock jumps) while schedules exist.
const tick = time.Minute

// maxRunsPerMinute stops a rule that keeps firing (a loop through other
// rules or a flapping input).
const maxRunsPerMinute = 30

type timer struct {
	at time.Time
	fn func(now time.Time)
}

// state is the engine's state, owned by the Run goroutine.
type state struct {
	e      *Engine
	cfg    *config.Config
	ctx    context.Context
	cancel context.CancelFunc

	startedAt time.Time
	clockOK   bool
	values    map[string]any       // outputs, inputs, metrics by id
	fresh     map[string]time.Time // metric key -> last reading
	failed    map[string]bool      // sensor id -> last read failed
	fields    map[string]config.FieldSource
	timeouts  map[string]time.Duration // metric key -> timeout filter
	kinds     map[string]string        // output id -> kind
	pulses    map[string]time.Duration // output id -> configured pulse
	timers    map[string]timer

	rules  []*rule
	byID   map[string]*rule
	therms []*thermo
	thByID map[string]*thermo
}

func newState(e *Engine, cfg *config.Config, restore map[string]any) (*state, error) {
	s := &state{e: e, cfg: cfg, values: map[string]any{}, fresh: map[string]time.Time{}, failed: map[string]bool{},
		fields: cfg.MetricFields(), timeouts: map[string]time.Duration{}, kinds: map[string]string{},
		pulses: map[string]time.Duration{}, timers: map[string]timer{}, byID: map[string]*rule{}, thByID: map[string]*thermo{}}
	for _, o := range cfg.Outputs {
		s.kinds[o.ID] = o.Kind
		s.pulses[o.ID] = o.Pulse
	}
	for _, sn := range cfg.Sensors {
		for _, f := range sn.Fields {
			for _, fl := range f.Filters {
				if fl.Timeout > 0 {
					s.timeouts[f.Name] = fl.Timeout
				}
			}
		}
	}
	env := cfg.ExprEnv()
	for _, a := range cfg.Automations {
		r := &rule{cfg: a, enabled: a.Enabled == nil || *a.Enabled, cond: unknown, own: map[string]any{}}
		if v, ok := restore[a.ID].(bool); ok {
			r.enabled = v
		}
		if a.Trigger == config.TriggerWhen {
			p, names, err := config.CompileWhen(a.When, env)
			if err != nil {
				return nil, fmt.Errorf("automation %s: when: %v", a.ID, err)
			}
			r.prog, r.names = p, names
			for _, n := range names {
				if _, ok := s.fields[n]; ok {
					r.sensors = append(r.sensors, n)
				}
			}
		}
		if a.Trigger == config.TriggerCron {
			sc, err := config.CronParser().Parse(a.Cron)
			if err != nil {
				return nil, fmt.Errorf("automation %s: cron: %v", a.ID, err)
			}
			r.cron = sc
		}
		for _, act := range append(append([]config.Action{}, a.Do...), a.Else...) {
			for _, id := range []string{act.Set, act.Pulse} {
				if _, ok := s.kinds[id]; ok && !contains(r.outputs, id) {
					r.outputs = append(r.outputs, id)
				}
			}
		}
		s.rules = append(s.rules, r)
		s.byID[a.ID] = r
	}
	for _, t := range cfg.Thermostats {
		th := &thermo{cfg: t, target: t.Target, demand: unknown, out: unknown, cmd: unknown}
		if v, ok := toNumber(restore[t.ID]); ok && v >= t.Range[0] && v <= t.Range[1] {
			th.target = v
		}
		s.therms = append(s.therms, th)
		s.thByID[t.ID] = th
	}
	return s, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (s *state) controlValues() map[string]any {
	m := map[string]any{}
	for _, t := range s.therms {
		m[t.cfg.ID] = t.target
	}
	for _, r := range s.rules {
		m[r.cfg.ID] = r.enabled
	}
	return m
}

// --- timers -------------------------------------------------------------

func (s *state) setTimer(key string, at time.Time, fn func(time.Time)) {
	s.timers[key] = timer{at: at, fn: fn}
}

func (s *state) clearTimer(key string) { delete(s.timers, key) }

func (s *state) nextTimer() (time.Time, bool) {
	var at time.Time
	ok := false
	for _, t := range s.timers {
		if !ok || t.at.Before(at) {
			at, ok = t.at, true
		}
	}
	return at, ok
}

// fireDue runs every timer due at now, earliest first.
func (s *state) fireDue(now time.Time) {
	for i := 0; i < 10000; i++ {
		var keys []string
		for k, t := range s.timers {
			if !t.at.After(now) {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return
		}
		sort.Slice(keys, func(a, b int) bool {
			ta, tb := s.timers[keys[a]].at, s.timers[keys[b]].at
			if !ta.Equal(tb) {
				return ta.Before(tb)
			}
			return keys[a] < keys[b]
		})
		t := s.timers[keys[0]]
		delete(s.timers, keys[0])
		t.fn(now)
	}
}

// --- start --------------------------------------------------------------

func (s *state) start(now time.Time) {
	s.startedAt = now
	s.clockOK = s.e.valid()
	hasSchedules := false
	for _, r := range s.rules {
		switch r.cfg.Trigger {
		case config.TriggerBoot:
			if r.enabled {
				s.e.log.Info("automation on boot", "rule", r.cfg.ID)
				s.startRun(r, r.cfg.Do, 0, now)
			}
		case config.TriggerEvery:
			s.armEvery(r, now)
		case config.TriggerWhen:
			s.evalRule(r, now, false)
		default:
			hasSchedules = true
		}
		s.status(r.status(s, now))
	}
	for _, t := range s.therms {
		s.evalThermo(t, now)
	}
	if !hasSchedules {
		return
	}
	if s.clockOK {
		s.recompute(now)
	} else {
		s.e.log.Warn("automation: the system clock is not synchronised; schedules are skipped until it is (NTP, or clock: any for an RTC)")
	}
	s.armSchedules(now)
	s.setTimer("tick", now.Add(tick), s.onTick)
}

func (s *state) onTick(now time.Time) {
	s.setTimer("tick", now.Add(tick), s.onTick)
	ok := s.e.valid()
	switch {
	case ok && !s.clockOK:
		s.clockOK = true
		s.e.log.Info("automation: the system clock is synchronised; schedules run", "time", now.In(s.e.loc).Format(time.DateTime))
		s.recompute(now)
		s.armSchedules(now)
	case !ok && s.clockOK:
		s.clockOK = false
		s.e.log.Warn("automation: the system clock lost synchronisation; schedules are skipped until it is back")
	}
	// The wall clock may have jumped (NTP step): re-arm from now.
	for _, r := range s.rules {
		if !r.isSchedule() || r.next.IsZero() {
			continue
		}
		if late := now.Sub(r.next); late >= 0 {
			if late < 2*tick {
				s.fireSchedule(r, now)
			} else {
				s.e.log.Warn("automation: schedule missed (the clock jumped)", "rule", r.cfg.ID, "was", r.next.In(s.e.loc).Format(time.DateTime))
				s.arm(r, now)
			}
		} else {
			s.arm(r, now)
		}
	}
	for _, r := range s.rules {
		s.status(r.status(s, now))
	}
}

// --- updates ------------------------------------------------------------

func (s *state) update(u Update, now time.Time) {
	switch u.Kind {
	case UpdateState:
		s.values[u.ID] = u.Value
		for _, t := range s.therms {
			if t.cfg.Output == u.ID {
				s.thermoOutput(t, u.Value, now)
			}
		}
		for _, r := range s.rules {
			self := false
			if v, ok := r.own[u.ID]; ok {
				delete(r.own, u.ID)
				self = sameValue(v, u.Value)
			}
			if contains(r.names, u.ID) {
				s.evalRule(r, now, self)
			}
		}
	case UpdateMetrics:
		s.failed[u.Source] = false
		keys := make([]string, 0, len(u.Fields))
		for k, v := range u.Fields {
			s.values[k] = v
			s.fresh[k] = now
			keys = append(keys, k)
		}
		s.dependents(keys, now)
	case UpdateSensorError:
		s.failed[u.Source] = true
		var keys []string
		for k, fs := range s.fields {
			if fs.Source == u.Source {
				keys = append(keys, k)
			}
		}
		s.dependents(keys, now)
	}
}

func (s *state) dependents(keys []string, now time.Time) {
	for _, t := range s.therms {
		if contains(keys, t.cfg.Sensor) {
			s.evalThermo(t, now)
		}
	}
	for _, r := range s.rules {
		for _, k := range keys {
			if contains(r.names, k) {
				s.evalRule(r, now, false)
				break
			}
		}
	}
}

// staleFields lists the sensor fields among names that are failing, NaN
// or older than d (a field's timeout filter shortens d).
func (s *state) staleFields(names []string, d time.Duration, now time.Time) (stale []string, next time.Time) {
	for _, n := range names {
		fs, ok := s.fields[n]
		if !ok {
			continue
		}
		dd := d
		if to := s.timeouts[n]; to > 0 && to < dd {
			dd = to
		}
		last, seen := s.fresh[n]
		if !seen {
			last = s.startedAt
		}
		f, isNum := toNumber(s.values[n])
		switch {
		case s.failed[fs.Source]:
			stale = append(stale, n+" (read error)")
		case seen && isNum && math.IsNaN(f):
			stale = append(stale, n+" (NaN)")
		case !now.Before(last.Add(dd)):
			stale = append(stale, fmt.Sprintf("%s (no reading for %s)", n, now.Sub(last).Round(time.Second)))
		default:
			if at := last.Add(dd); next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	return stale, next
}

// value is a name's current value for an expression.
func (s *state) value(name string) (any, bool) {
	if t := s.thByID[name]; t != nil {
		return t.target, true
	}
	if r := s.byID[name]; r != nil {
		return r.enabled, true
	}
	v, ok := s.values[name]
	if !ok || v == nil {
		return nil, false
	}
	if _, isField := s.fields[name]; isField {
		f, ok := toNumber(v)
		return f, ok
	}
	if s.kinds[name] == config.KindPWM {
		f, ok := toNumber(v)
		return f, ok
	}
	return v, true
}

// --- controls -----------------------------------------------------------

func (s *state) setControl(id string, value any, from string, now time.Time) (any, error) {
	if t := s.thByID[id]; t != nil {
		v, ok := toNumber(value)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: thermostat %s takes a number", ErrBadValue, id)
		}
		if v < t.cfg.Range[0] || v > t.cfg.Range[1] {
			return nil, fmt.Errorf("%w: %g is outside %s's range %g..%g", ErrBadValue, v, id, t.cfg.Range[0], t.cfg.Range[1])
		}
		if v != t.target {
			t.target = v
			s.e.log.Info("thermostat target set", "thermostat", id, "target", v, "from", from)
			s.e.setControl(id, v)
			s.evalThermo(t, now)
		}
		return v, nil
	}
	if r := s.byID[id]; r != nil {
		on, ok := toBool(value)
		if !ok {
			return nil, fmt.Errorf("%w: automation %s takes true or false (enabled)", ErrBadValue, id)
		}
		s.setEnabled(r, on, from, now)
		return on, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknown, id)
}

func (s *state) setEnabled(r *rule, on bool, from string, now time.Time) {
	if r.enabled == on {
		return
	}
	r.enabled = on
	s.e.log.Info("automation "+map[bool]string{true: "enabled", false: "disabled"}[on], "rule", r.cfg.ID, "from", from)
	s.e.setControl(r.cfg.ID, on)
	s.reset(r)
	if on {
		switch {
		case r.cfg.Trigger == config.TriggerWhen:
			s.evalRule(r, now, false)
		case r.cfg.Trigger == config.TriggerEvery:
			s.armEvery(r, now)
		}
	}
	s.status(r.status(s, now))
	// Rules may read an automation's enabled flag.
	for _, x := range s.rules {
		if contains(x.names, r.cfg.ID) {
			s.evalRule(x, now, false)
		}
	}
}

// reset forgets a rule's edge state and stops what it runs.
func (s *state) reset(r *rule) {
	r.cond, r.active = unknown, false
	if r.run != nil {
		r.run.cancel()
		r.run = nil
	}
	s.clearTimer("for:" + r.cfg.ID)
	if r.cfg.Trigger == config.TriggerEvery {
		s.clearTimer("every:" + r.cfg.ID)
	}
}

// --- helpers ------------------------------------------------------------

const unknown = -1

func b2i(b bool) int8 {
	if b {
		return 1
	}
	return 0
}

func toNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

func toBool(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true", "on", "1":
			return true, true
		case "false", "off", "0":
			return false, true
		}
	case float64:
		if b == 0 || b == 1 {
			return b == 1, true
		}
	}
	return false, false
}

func sameValue(a, b any) bool {
	if fa, ok := toNumber(a); ok {
		fb, ok := toNumber(b)
		return ok && math.Abs(fa-fb) < 1e-9
	}
	return a == b
}

func evalBool(p *vm.Program, env map[string]any) (bool, error) {
	out, err := expr.Run(p, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("result %v is not a bool", out)
	}
	return b, nil
}

package automation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/sun"
)

// sunEvent is r's sunrise/sunset (plus offset) on day's date.
func (s *state) sunEvent(r *rule, day time.Time) (time.Time, bool) {
	l := s.cfg.Location
	if l == nil {
		return time.Time{}, false
	}
	ev := sun.On(day, l.Lat, l.Lon)
	if !ev.OK {
		return time.Time{}, false
	}
	t := ev.Sunrise
	if r.cfg.Trigger == config.TriggerSunset {
		t = ev.Sunset
	}
	return t.Add(r.cfg.Offset), true
}

// startRun runs acts for r on its own goroutine after wait, replacing what
// r was running.
func (s *state) startRun(r *rule, acts []config.Action, wait time.Duration, now time.Time) {
	if len(acts) == 0 {
		return
	}
	// Loop guard.
	recent := r.runs[:0]
	for _, t := range r.runs {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	r.runs = recent
	if len(r.runs) >= maxRunsPerMinute {
		r.lastErr = fmt.Sprintf("ran %d times within a minute; skipped (a loop?)", len(r.runs))
		s.e.log.Warn("automation: too many runs; skipped", "rule", r.cfg.ID, "runs_per_minute", len(r.runs))
		return
	}
	r.runs = append(r.runs, now)
	if r.run != nil {
		r.run.cancel()
	}
	ctx, cancel := context.WithCancel(s.ctx)
	rn := &run{cancel: cancel}
	r.run = rn
	if wait == 0 {
		r.lastRun = now
	}
	e := s.e
	e.runs.Add(1)
	go func() {
		defer e.runs.Done()
		defer cancel()
		err := e.execute(ctx, r, acts, wait)
		_ = e.post(context.Background(), func() {
			if r.run == rn {
				r.run = nil
			}
			if err != nil {
				r.lastErr = err.Error()
			} else if ctx.Err() == nil {
				r.lastErr = ""
			}
			s.status(r.status(s, time.Now()))
		})
	}()
}

// execute runs one action sequence (on a run goroutine). It returns the
// first refusal's error after running the rest.
func (e *Engine) execute(ctx context.Context, r *rule, acts []config.Action, wait time.Duration) error {
	id := r.cfg.ID
	from := r.from()
	if wait > 0 && !sleep(ctx, wait) {
		return nil
	}
	if wait > 0 {
		// The run starts now: say so at once (its status only changes
		// again when it ends, maybe hours later).
		_ = e.post(ctx, func() {
			now := time.Now()
			r.lastRun = now
			e.s.status(r.status(e.s, now))
		})
	}
	var first error
	note := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, a := range acts {
		if ctx.Err() != nil {
			return first
		}
		switch {
		case a.Delay > 0:
			if !sleep(ctx, a.Delay) {
				return first
			}
		case a.Set != "":
			if e.Has(a.Set) {
				var err error
				if cerr := e.call(ctx, func() { _, err = e.s.setControl(a.Set, a.Value, from, time.Now()) }); cerr != nil {
					return first
				}
				e.logAction(id, a, err)
				note(err)
				continue
			}
			note(e.apply(ctx, r, a, a.Set, a.Value))
		case a.Pulse != "":
			note(e.pulse(ctx, r, a))
		case a.Command != "":
			var err error
			if a.Command == "all_off" {
				if ao, ok := e.opts.Actuator.(AllOffer); ok {
					err = ao.AllOff(ctx)
				} else {
					err = errors.New("all_off is not available")
				}
			} else {
				_, err = e.opts.Actuator.Apply(ctx, a.Command, a.Value, from)
			}
			e.logAction(id, a, err)
			note(err)
		case a.Notify != "":
			if e.opts.Notify != nil {
				e.opts.Notify(id, a.Notify)
			}
			e.logAction(id, a, nil)
		case a.Enable != "" || a.Disable != "":
			target, on := a.Enable, true
			if a.Disable != "" {
				target, on = a.Disable, false
			}
			if e.call(ctx, func() {
				if x := e.s.byID[target]; x != nil {
					e.s.setEnabled(x, on, from, time.Now())
				}
			}) != nil {
				return first
			}
			e.logAction(id, a, nil)
		}
	}
	return first
}

// apply sets an output through the Actuator, noting the write first so
// the rule does not take its own change for an edge.
func (e *Engine) apply(ctx context.Context, r *rule, a config.Action, target string, value any) error {
	if e.post(ctx, func() { r.own[target] = value }) != nil {
		return nil
	}
	_, err := e.opts.Actuator.Apply(ctx, target, value, r.from())
	e.logAction(r.cfg.ID, a, err)
	return err
}

func (e *Engine) pulse(ctx context.Context, r *rule, a config.Action) error {
	if e.s.kinds[a.Pulse] == config.KindMomentary {
		return e.apply(ctx, r, a, a.Pulse, true)
	}
	if err := e.apply(ctx, r, a, a.Pulse, true); err != nil {
		return err
	}
	d := a.Length
	if d <= 0 {
		d = e.s.pulses[a.Pulse]
	}
	sleep(ctx, d)
	// Off even when the run is cancelled: a pulse never stays on.
	off, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := e.opts.Actuator.Apply(off, a.Pulse, false, r.from())
	if err != nil {
		e.log.Warn("automation: pulse off refused", "rule", r.cfg.ID, "output", a.Pulse, "err", err)
	}
	return err
}

func (e *Engine) logAction(id string, a config.Action, err error) {
	if err != nil {
		e.log.Warn("automation action refused", "rule", id, "action", a.String(), "err", err)
		return
	}
	e.log.Info("automation action", "rule", id, "action", a.String())
}

// applyAsync drives an output from the engine goroutine without blocking
// it (interlock dead times wait in Apply).
func (s *state) applyAsync(from string, r *rule, target string, value any) {
	if r != nil {
		r.own[target] = value
	}
	e := s.e
	ctx := s.ctx
	e.runs.Add(1)
	go func() {
		defer e.runs.Done()
		if _, err := e.opts.Actuator.Apply(ctx, target, value, from); err != nil && ctx.Err() == nil {
			e.log.Warn("automation action refused", "from", from, "target", target, "value", value, "err", err)
		}
	}()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

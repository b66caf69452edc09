package box

// The automation component: the box's own logic (thermostats, rules,
// schedules; internal/automation) fed by the bridge's events and acting
// through the bridge like a phone. Its controls (thermostat id -> target,
// automation id -> enabled) are bridge extra controls, so they are in
// control_snapshot and settable with set/cmd; they persist in the state
// directory (automations.json). The read-only "<id>_status" (state) and
// "<id>_last_run" (when an automation last ran) are bridge values too.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/meshbox/meshbox/internal/atomicfile"
	"github.com/meshbox/meshbox/internal/automation"
	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
)

// automationsFile keeps the automation controls across restarts.
const automationsFile = "automations.json"

// engineRef lets the bridge reach the engine made after it (the engine
// acts through the bridge; the bridge serves the engine's controls).
type engineRef struct {
	p atomic.Pointer[automation.Engine]
}

func (r *engineRef) Has(id string) bool {
	e := r.p.Load()
	return e != nil && e.Has(id)
}

func (r *engineRef) Set(ctx context.Context, id string, v any, from string) (any, error) {
	e := r.p.Load()
	if e == nil {
		return nil, automation.ErrStopped
	}
	if from == "" {
		from = "mesh"
	}
	return e.Set(ctx, id, v, from)
}

// autoState is the component's state outside the engine.
type autoState struct {
	engine *automation.Engine
	path   string
	kick   chan struct{} // cap 1: persist the controls
	mu     sync.Mutex
	saved  map[string]any
}

// newAutomation builds the engine for cfg on br (nil without thermostats
// and automations) and publishes its controls.
func (b *Box) newAutomation(cfg *config.Config, br *bridge.Bridge, ref *engineRef) (*autoState, error) {
	if len(cfg.Thermostats) == 0 && len(cfg.Automations) == 0 {
		return nil, nil
	}
	log := b.log.With("component", "automation")
	st := &autoState{path: filepath.Join(cfg.StateDir, automationsFile), kick: make(chan struct{}, 1), saved: map[string]any{}}
	restore := map[string]any{}
	if data, err := os.ReadFile(st.path); err == nil {
		if err := json.Unmarshal(data, &restore); err != nil {
			log.Warn("ignoring unreadable automation state", "file", st.path, "err", err)
			restore = nil
		}
	}
	e, err := automation.New(automation.Options{
		Config:   cfg,
		Actuator: br,
		Logger:   log,
		Notify:   br.Notify,
		OnControl: func(id string, v any) {
			br.SetControl(id, v)
			st.save(id, v)
		},
		// State and last run as read-only controls: the layout's status
		// and last-run labels listen for their state frames.
		OnStatus: func(s automation.Status) {
			for _, v := range automation.StatusValues(s, nil) {
				br.SetControl(v.ID, v.Value)
			}
		},
		Restore: restore,
	})
	if err != nil {
		return nil, err
	}
	st.engine = e
	for id, v := range e.Controls() {
		br.SetControl(id, v)
		br.SetControl(automation.StatusID(id), "starting")
		st.saved[id] = v
	}
	for _, a := range cfg.Automations {
		br.SetControl(automation.LastRunID(a.ID), automation.NeverRun)
	}
	ref.p.Store(e)
	return st, nil
}

func (st *autoState) save(id string, v any) {
	st.mu.Lock()
	st.saved[id] = v
	st.mu.Unlock()
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

func (st *autoState) persist() error {
	st.mu.Lock()
	data, err := json.Marshal(st.saved)
	st.mu.Unlock()
	if err != nil {
		return err
	}
	// A power cut mid-write must leave the old file or the new one.
	return atomicfile.WriteFile(st.path, data, 0o600)
}

// startAutomation runs the engine, feeding it the bridge's current values
// and then its events.
func (b *Box) startAutomation(ctx context.Context) (func(), error) {
	st := b.hw.auto
	if st == nil {
		return nil, nil
	}
	br := b.hw.bridge
	log := b.log.With("component", "automation")
	sub := br.Subscribe("automation", bridge.SubscribeOptions{
		Kinds: []bridge.EventKind{bridge.EventState, bridge.EventMetrics, bridge.EventSensorError}})
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := st.engine.Run(ctx); err != nil && ctx.Err() == nil {
			b.fail(err)
		}
	}()
	go func() {
		defer wg.Done()
		// What holds now, then every change (one subscribed before the
		// snapshot: a change in between arrives twice, harmlessly).
		_, snap := br.Snapshot()
		for _, id := range ioIDs(b.cfg) {
			if v, ok := snap[id]; ok && v != nil {
				if st.engine.Feed(ctx, automation.Update{Kind: automation.UpdateState, ID: id, Value: v}) != nil {
					return
				}
			}
		}
		for ev := range sub.C() {
			var u automation.Update
			switch ev.Kind {
			case bridge.EventState:
				u = automation.Update{Kind: automation.UpdateState, ID: ev.ID, Value: ev.Value}
			case bridge.EventMetrics:
				u = automation.Update{Kind: automation.UpdateMetrics, Source: ev.Source, Fields: ev.Fields}
			case bridge.EventSensorError:
				u = automation.Update{Kind: automation.UpdateSensorError, Source: ev.Source}
			default:
				continue
			}
			if st.engine.Feed(ctx, u) != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-st.kick:
				if err := st.persist(); err != nil {
					log.Warn("cannot save automation state", "file", st.path, "err", err)
				}
			}
		}
	}()
	log.Info("automations running", "thermostats", len(b.cfg.Thermostats), "automations", len(b.cfg.Automations))
	return func() {
		cancel()
		sub.Close()
		wg.Wait()
		if err := st.persist(); err != nil {
			log.Warn("cannot save automation state", "file", st.path, "err", err)
		}
	}, nil
}

// ioIDs are the outputs and inputs of cfg.
func ioIDs(cfg *config.Config) []string {
	var ids []string
	for _, o := range cfg.Outputs {
		ids = append(ids, o.ID)
	}
	for _, in := range cfg.Inputs {
		ids = append(ids, in.ID)
	}
	return ids
}

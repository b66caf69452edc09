package box

// The history component: every sensor field, output state and thermostat
// target from the bridge's events goes into internal/history, kept in
// <state_dir>/history and served at GET /api/history (any member token).

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/history"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/metrics"
	"github.com/meshbox/meshbox/internal/relay"
)

// historyHeartbeat re-records every output's and thermostat's current
// state this often, so a timeline has points (and a minute its duty cycle)
// while nothing switches.
const historyHeartbeat = time.Minute

// historyDrain bounds the wait for the last events (exit states) at stop.
const historyDrain = 2 * time.Second

// historyState is the store and what the component records.
type historyState struct {
	store  *history.Store
	states map[string]bool   // output and thermostat ids recorded from state events
	trends map[string]string // metric field -> its trend sparkline's control id
	sub    *bridge.Subscription
}

// openHistory loads the store and mounts GET /api/history (in New, so the
// route exists before Run serves).
func (b *Box) openHistory() error {
	if b.cfg.History.Disabled {
		return nil
	}
	log := b.log.With("component", "history")
	opts := history.OptionsFrom(b.cfg)
	opts.Dir = filepath.Join(b.cfg.StateDir, "history")
	opts.Logger = log
	st, err := history.Open(opts)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	hs := &historyState{store: st, states: map[string]bool{}, trends: map[string]string{}}
	for _, it := range layout.Items(b.cfg) {
		if it.Kind == layout.KindTrend {
			hs.trends[strings.TrimSuffix(it.ID, layout.TrendSuffix)] = it.ID
		}
	}
	for _, s := range b.cfg.Series() {
		st.Declare(s.Name, s.Unit)
		if s.State {
			hs.states[s.Name] = true
		}
	}
	b.history = hs
	b.metrics.reg.MustRegister(b.historyFamilies(st)...)
	b.mux.Handle("GET "+history.Path, history.Handler(history.HTTPOptions{Store: st, Member: b.memberToken()}))
	return nil
}

// memberToken is the check of GET /api/history: the hub token or any
// token the relay's credentials admit (controller, viewer). nil on an open
// box.
func (b *Box) memberToken() func(string) bool {
	creds := b.opts.Relay.Credentials
	if creds == nil && b.creds != nil {
		creds = b.creds.relayCredentials() // paired phones (controller, viewer)
	}
	if b.opts.Token == "" && creds == nil {
		return nil
	}
	hub := sha256.Sum256([]byte(b.opts.Token))
	return func(tok string) bool {
		sum := sha256.Sum256([]byte(tok))
		if b.opts.Token != "" && subtle.ConstantTimeCompare(sum[:], hub[:]) == 1 {
			return true
		}
		if creds != nil {
			sc, ok := creds.Lookup(tok)
			return ok && sc >= relay.ScopeHub && sc <= relay.ScopeViewer
		}
		return false
	}
}

// startHistory records the bridge's events until the bridge shuts down
// (its subscription then drains and closes), flushing every flush interval
// and once more at stop.
func (b *Box) startHistory(ctx context.Context) (func(), error) {
	hs := b.history
	if hs == nil {
		return nil, nil
	}
	hs.sub = b.hw.bridge.Subscribe("history", bridge.SubscribeOptions{
		Kinds: []bridge.EventKind{bridge.EventMetrics, bridge.EventState}, Queue: 1024})
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = hs.store.Run(runCtx) }()
	loopDone := make(chan struct{})
	latest := map[string]float64{}     // owned by the loop
	recent := hs.backfill(b.hw.bridge) // owned by the loop
	_, snap := b.hw.bridge.Snapshot()
	now := time.Now()
	for id, v := range snap {
		if f, ok := historyValue(v); ok && hs.states[id] {
			latest[id] = f
			hs.store.Add(id, now, f)
		}
	}
	go func() {
		defer close(loopDone)
		tk := time.NewTicker(historyHeartbeat)
		defer tk.Stop()
		for {
			select {
			case ev, ok := <-hs.sub.C():
				if !ok {
					return
				}
				hs.record(ev, latest)
				hs.feedTrends(b.hw.bridge, ev, recent)
			case t := <-tk.C:
				for id, v := range latest {
					hs.store.Add(id, t, v)
				}
			}
		}
	}()
	return func() {
		// The bridge's Shutdown (before any stop) closes the subscription
		// once drained: the exit states are recorded too.
		select {
		case <-loopDone:
		case <-time.After(historyDrain):
			hs.sub.Close()
			<-loopDone
		}
		hs.sub.Close()
		cancel() // the final flush
		wg.Wait()
	}, nil
}

func (hs *historyState) record(ev bridge.Event, latest map[string]float64) {
	t := ev.Time
	if t.IsZero() {
		t = time.Now()
	}
	switch ev.Kind {
	case bridge.EventMetrics:
		for k, v := range ev.Fields {
			if f, ok := historyValue(v); ok {
				hs.store.Add(k, t, f)
			}
		}
	case bridge.EventState:
		if !hs.states[ev.ID] {
			return
		}
		if f, ok := historyValue(ev.Value); ok {
			latest[ev.ID] = f
			hs.store.Add(ev.ID, t, f)
		}
	}
}

// backfill puts every trend's last readings from the store into the
// bridge's control_snapshot (a phone's sparkline replaces its buffer with
// them on admission) and returns them for feedTrends.
func (hs *historyState) backfill(br *bridge.Bridge) map[string][]float64 {
	recent := make(map[string][]float64, len(hs.trends))
	now := time.Now()
	for field, id := range hs.trends {
		var vals []float64
		for _, since := range []time.Duration{time.Hour, history.DefaultRaw} {
			r, err := hs.store.Query(field, now.Add(-since), now, 0)
			if err == nil && (len(r.Avg) >= layout.TrendPoints || since == history.DefaultRaw) {
				vals = r.Avg[max(0, len(r.Avg)-layout.TrendPoints):]
				break
			}
		}
		vals = append([]float64{}, vals...)
		recent[field] = vals
		br.SetSnapshotValue(id, &vals)
	}
	return recent
}

// feedTrends extends the trends with a metrics reading and refreshes their
// snapshot values (the phones already on the channel append the reading
// from the metrics broadcast themselves).
func (hs *historyState) feedTrends(br *bridge.Bridge, ev bridge.Event, recent map[string][]float64) {
	if ev.Kind != bridge.EventMetrics {
		return
	}
	for k, v := range ev.Fields {
		id, ok := hs.trends[k]
		f, num := v.(float64)
		if !ok || !num {
			continue
		}
		vals := append(recent[k], f)
		if len(vals) > layout.TrendPoints {
			vals = vals[len(vals)-layout.TrendPoints:]
		}
		vals = append([]float64(nil), vals...) // the snapshot's copy is never changed
		recent[k] = vals
		br.SetSnapshotValue(id, &vals)
	}
}

// historyValue is v as a number: booleans as 1 and 0.
func historyValue(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int:
		return float64(x), true
	}
	return 0, false
}

// historyFamilies are the store's memory and writes on /metrics.
func (b *Box) historyFamilies(st *history.Store) []metrics.Family {
	stat := func(name, help string, typ metrics.Type, v func(history.Stats) float64) metrics.Family {
		return metrics.Family{Name: name, Help: help, Type: typ, Collect: func(emit metrics.Emit) { emit(v(st.Stats())) }}
	}
	return []metrics.Family{
		stat("meshbox_history_store_bytes", "Memory held by the history store (all series).", metrics.Gauge,
			func(s history.Stats) float64 { return float64(s.Bytes) }),
		stat("meshbox_history_series", "Series the history store keeps.", metrics.Gauge,
			func(s history.Stats) float64 { return float64(s.Series) }),
		gauge("meshbox_history_points", "Points kept in memory, per tier (raw, 1m, 15m).", func(emit metrics.Emit) {
			s := st.Stats()
			for i, tier := range []string{"raw", "1m", "15m"} {
				emit(float64(s.Points[i]), "tier", tier)
			}
		}),
		stat("meshbox_history_written_bytes_total", "Bytes appended to the history segment files since start.", metrics.Counter,
			func(s history.Stats) float64 { return float64(s.BytesWritten) }),
		stat("meshbox_history_flushes_total", "Segment appends (one per tier and flush).", metrics.Counter,
			func(s history.Stats) float64 { return float64(s.Bursts) }),
		stat("meshbox_history_write_errors_total", "Failed segment appends (retried at the next flush).", metrics.Counter,
			func(s history.Stats) float64 { return float64(s.WriteErrors) }),
		stat("meshbox_history_dropped_total", "Readings refused (out of order, or beyond the series bound).", metrics.Counter,
			func(s history.Stats) float64 { return float64(s.Dropped) }),
		stat("meshbox_history_evicted_total", "Series from an old config dropped to make room for configured ones.", metrics.Counter,
			func(s history.Stats) float64 { return float64(s.Evicted) }),
	}
}

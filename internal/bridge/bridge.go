package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/filter"
	"github.com/meshbox/meshbox/internal/gpio"
)

// Errors returned by Apply (wrapped; test with errors.Is). Their text is the
// reason sent in command_ack and routed replies.
var (
	ErrUnknownTarget = errors.New("unknown target")
	ErrReadOnly      = errors.New("target is read-only")
	ErrRateLimited   = errors.New("rate limited")
	ErrHardware      = errors.New("hardware error")
	ErrUnknownCmd    = errors.New("unknown command")
	ErrClosed        = errors.New("bridge is shut down")
	// ErrBadValue is wrapped by every value that cannot be applied.
	ErrBadValue = errBadValue
)

// Mesh is where the bridge sends its frames. Broadcast sends payload as a
// broadcast_request; it must not block for long (a remote link queues).
// Frames from the mesh come in through HandleBroadcast and HandleRouted.
type Mesh interface {
	Broadcast(ctx context.Context, payload any) error
}

// SensorReader reads one sensor: driver field name -> value.
type SensorReader interface {
	Read(ctx context.Context) (map[string]float64, error)
	Close() error
}

// Options are the optional parts of New.
type Options struct {
	// Logger defaults to slog.DiscardHandler.
	Logger *slog.Logger
	// OpenSensor opens a configured sensor on the host. Nil uses the
	// internal/sensor drivers (DefaultOpenSensor).
	OpenSensor func(host gpio.Host, s config.Sensor) (SensorReader, error)
	// OnPairingButton is called (on its own goroutine) when an input marked
	// pairing: true is pressed.
	OnPairingButton func()
}

// Change is one control value change, delivered to subscribers.
type Change struct {
	V     uint64 // snapshot version after the change
	ID    string // control id
	Value any    // bool, float64 or string
}

// Bridge drives the configured hardware and speaks to the mesh. All
// methods may be called concurrently.
//
// Lock order: an output domain's mu (see domain) before Bridge.mu; a
// serialDev's mu is never held with another lock.
type Bridge struct {
	// Immutable after New.
	cfg        *config.Config
	host       gpio.Host
	log        *slog.Logger
	opts       Options
	outputs    map[string]*output
	outList    []*output
	inputs     []*input
	sensors    []*sensorRunner
	serials    map[string]*serialDev
	serialList []*serialDev
	persistOn  bool
	base       context.Context // cancelled by Shutdown
	cancel     context.CancelFunc

	// Guarded by mu.
	mu      sync.Mutex
	v       uint64
	values  map[string]any
	subs    map[int]func(Change)
	meshes  map[int]Mesh
	nextKey int
	running bool

	persistKick chan struct{} // cap 1; never closed
	persistDone chan struct{} // closed when the persist loop ends
	wg          sync.WaitGroup
	closing     atomic.Bool
	shutOnce    sync.Once
	stats       counters
	logLimit    logLimiter
}

// New opens every output and input of cfg on host and drives each output
// to its boot state before returning. It returns an error (after driving
// what it opened to its exit state) if a line cannot be opened.
func New(cfg *config.Config, host gpio.Host, opts Options) (*Bridge, error) {
	if cfg == nil || host == nil {
		return nil, errors.New("bridge: nil config or host")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OpenSensor == nil {
		opts.OpenSensor = DefaultOpenSensor
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bridge{
		cfg:         cfg,
		host:        host,
		log:         opts.Logger,
		opts:        opts,
		outputs:     make(map[string]*output),
		serials:     make(map[string]*serialDev),
		base:        ctx,
		cancel:      cancel,
		values:      make(map[string]any),
		subs:        make(map[int]func(Change)),
		meshes:      make(map[int]Mesh),
		persistKick: make(chan struct{}, 1),
		persistDone: make(chan struct{}),
	}
	if err := b.openOutputs(); err != nil {
		b.driveExit()
		cancel()
		return nil, err
	}
	if err := b.openInputs(); err != nil {
		b.driveExit()
		cancel()
		return nil, err
	}
	for _, s := range cfg.Sensors {
		b.sensors = append(b.sensors, &sensorRunner{cfg: s, filters: filter.ForSensor(s)})
	}
	// Sensor and serial fields are listed (as null) until their first
	// reading, so a snapshot always names every control.
	for _, c := range Controls(cfg) {
		if c.Kind == KindSensor || c.Kind == KindSerial {
			b.values[c.ID] = nil
		}
	}
	for _, s := range cfg.Serial {
		d := &serialDev{cfg: s}
		b.serials[s.ID] = d
		b.serialList = append(b.serialList, d)
	}
	if b.persistOn {
		go b.persistLoop()
	} else {
		close(b.persistDone)
	}
	return b, nil
}

// Config returns the configuration the bridge runs (read-only).
func (b *Bridge) Config() *config.Config { return b.cfg }

// Run starts the input, sensor and serial loops and blocks until ctx is
// done or Shutdown is called; it then waits for them to stop. It does not
// drive exit states: call Shutdown for that.
func (b *Bridge) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.running {
		b.mu.Unlock()
		return errors.New("bridge: Run called twice")
	}
	b.running = true
	b.mu.Unlock()
	if b.closing.Load() {
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(b.base, cancel)
	defer stop()
	for _, in := range b.inputs {
		b.goSafe(func() { b.runInput(ctx, in) })
	}
	for _, s := range b.sensors {
		b.goSafe(func() { b.runSensor(ctx, s) })
	}
	for _, d := range b.serialList {
		b.goSafe(func() { b.runSerial(ctx, d) })
	}
	<-ctx.Done()
	b.wg.Wait()
	return nil
}

// goSafe runs fn on a goroutine counted in wg; a panic drives the exit
// states and is re-raised (crashing the process, as a panic should).
func (b *Bridge) goSafe(fn func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.SafeExit()
		fn()
	}()
}

// SafeExit is meant to be deferred: on a panic it drives every output to
// its exit state, then re-panics. Without a panic it does nothing.
func (b *Bridge) SafeExit() {
	if r := recover(); r != nil {
		b.log.Error("panic: driving outputs to their exit state", "panic", fmt.Sprint(r))
		b.Shutdown()
		panic(r)
	}
}

// Shutdown stops the loops and drives every output to its exit state (off,
// on or keep). It is idempotent; later commands fail with ErrClosed.
func (b *Bridge) Shutdown() {
	b.shutOnce.Do(func() {
		b.closing.Store(true)
		b.cancel()
		b.driveExit()
		<-b.persistDone
		b.log.Info("outputs in their exit state")
	})
}

// Attach adds a mesh the bridge broadcasts to (the in-process relay, an
// upstream relay). detach removes it.
func (b *Bridge) Attach(m Mesh) (detach func()) { return register(b, b.meshes, m) }

// register adds v to one of the bridge's keyed tables (meshes, subs) and
// returns the function that removes it.
func register[T any](b *Bridge, table map[int]T, v T) (remove func()) {
	b.mu.Lock()
	k := b.nextKey
	b.nextKey++
	table[k] = v
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(table, k)
		b.mu.Unlock()
	}
}

// broadcast sends payload to every attached mesh; failures are logged.
func (b *Bridge) broadcast(ctx context.Context, payload any) {
	b.mu.Lock()
	meshes := make([]Mesh, 0, len(b.meshes))
	for _, m := range b.meshes {
		meshes = append(meshes, m)
	}
	b.mu.Unlock()
	if len(meshes) == 0 {
		return
	}
	raw, err := json.Marshal(payload) // once for every mesh
	if err != nil {
		b.log.Error("encode broadcast", "err", err)
		return
	}
	for _, m := range meshes {
		if err := m.Broadcast(ctx, json.RawMessage(raw)); err != nil && ctx.Err() == nil {
			b.log.Debug("broadcast", "err", err)
		}
	}
}

// Snapshot returns the snapshot version and a copy of every control's
// current value.
func (b *Bridge) Snapshot() (uint64, map[string]any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := make(map[string]any, len(b.values))
	for k, v := range b.values {
		m[k] = v
	}
	return b.v, m
}

// Subscribe calls fn after every change until cancel is called. fn runs on
// the goroutine that made the change (an output's lock may be held): it
// must not block nor call back into the bridge (hand off to a goroutine or
// a channel). Changes of one control arrive in order.
func (b *Bridge) Subscribe(fn func(Change)) (cancel func()) { return register(b, b.subs, fn) }

// record stores a control value; it bumps v and notifies subscribers when
// the value changed. It reports whether it changed.
func (b *Bridge) record(id string, value any) bool {
	b.mu.Lock()
	if old, ok := b.values[id]; ok && old == value {
		b.mu.Unlock()
		return false
	}
	b.values[id] = value
	b.v++
	c := Change{V: b.v, ID: id, Value: value}
	var subs []func(Change)
	for _, fn := range b.subs {
		subs = append(subs, fn)
	}
	b.mu.Unlock()
	for _, fn := range subs {
		fn(c)
	}
	return true
}

// recordMany stores several values (one sensor reading) as one change per
// changed value.
func (b *Bridge) recordMany(vals map[string]any) {
	for k, v := range vals {
		b.record(k, v)
	}
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

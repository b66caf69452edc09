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
	// ErrBusy: the command could not be applied promptly (its outputs
	// were busy, or it waited too long in the intake); nothing moved.
	ErrBusy = errors.New("busy")
	// ErrBadValue is wrapped by every value that cannot be applied.
	ErrBadValue = errBadValue
)

// Outcomes of commands that did not run to completion at once.
var (
	// errScheduled: the switch-on waits for an interlock dead time; the
	// command is answered when it happens. Never returned by Apply.
	errScheduled = errors.New("scheduled after the interlock dead time")
	// errSuperseded answers a scheduled switch-on cancelled by a newer
	// command for the same interlock group.
	errSuperseded = fmt.Errorf("%w: superseded by a newer command for the interlock group", ErrBusy)
	// errAllOff answers commands cancelled by all_off.
	errAllOff = fmt.Errorf("%w: cancelled by all_off", ErrBusy)
)

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
	// Controls serves extra controls (thermostats, automations) set with
	// cmd/set; nil: none.
	Controls ExtraControls
	// Sim handles the payload of a {"msg_type":"sim",...} frame (the
	// simulated board); nil refuses it with ErrNotSimulated.
	Sim func(payload json.RawMessage) error
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
	quiet      map[string]bool // inputs with broadcast "none": no state frame
	edges      map[string]bool // inputs with broadcast "event": input frames too
	pub        *publisher
	intake     *intake
	base       context.Context // cancelled by Shutdown
	cancel     context.CancelFunc

	// Guarded by mu.
	mu      sync.Mutex
	v       uint64
	values  map[string]any
	running bool

	persistKick chan struct{} // cap 1; never closed
	persistDone chan struct{} // closed when the persist loop ends
	wg          sync.WaitGroup
	closing     atomic.Bool
	offGen      atomic.Uint64 // all_off generation: bumped by AllOff (starts at 1)
	shutOnce    sync.Once
	stats       counters
	logLimit    logLimiter
	linked      linkedTable // announced linked boxes (linked.go)
	members     memberSet   // memberships and forwarded commands (relayed.go)
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
		quiet:       make(map[string]bool),
		edges:       make(map[string]bool),
		pub:         newPublisher(),
		persistKick: make(chan struct{}, 1),
		persistDone: make(chan struct{}),
	}
	fail := func(err error) (*Bridge, error) {
		b.driveExit()
		cancel()
		b.pub.close()
		return nil, err
	}
	if err := b.openOutputs(); err != nil {
		return fail(err)
	}
	if err := b.openInputs(); err != nil {
		return fail(err)
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
	b.offGen.Store(1)
	b.intake = newIntake(b)
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
		b.driveExit() // ahead of everything: the intake is stopped after
		b.cancel()
		b.intake.stop()
		<-b.persistDone
		b.pub.close()
		b.log.Info("outputs in their exit state")
	})
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

// record stores a control value and bumps v when it changed. For an
// output or input (state true) it publishes an EventState, also when the
// value did not change and resync is set (a refused command: tell everyone
// the actual value). It reports whether the value changed.
func (b *Bridge) record(id string, value any, state, resync bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.values[id]; ok && old == value {
		if state && resync {
			b.pub.emit(Event{Kind: EventState, V: b.v, ID: id, Value: value})
		}
		return false
	}
	b.values[id] = value
	b.v++
	if state {
		b.pub.emit(Event{Kind: EventState, V: b.v, ID: id, Value: value})
	}
	return true
}

// recordReading stores the fields of one sensor or serial reading and
// publishes them as one EventMetrics.
func (b *Bridge) recordReading(source string, fields map[string]any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, v := range fields {
		if old, ok := b.values[k]; !ok || old != v {
			b.values[k] = v
			b.v++
		}
	}
	b.pub.emit(Event{Kind: EventMetrics, V: b.v, Source: source, Fields: fields})
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

package automation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// Actuator is how the engine acts on the hardware: the phone's path,
// (*bridge.Bridge).Apply. from is "automation:<id>" or "thermostat:<id>".
type Actuator interface {
	Apply(ctx context.Context, target string, value any, from string) (any, error)
}

// AllOffer is implemented by an Actuator that can switch every output off
// (the all_off command).
type AllOffer interface {
	AllOff(ctx context.Context) error
}

// Errors of Set.
var (
	ErrUnknown  = errors.New("not a thermostat or automation")
	ErrBadValue = errors.New("bad value")
	ErrStopped  = errors.New("automation engine is not running")
)

// Options configure New.
type Options struct {
	Config   *config.Config
	Actuator Actuator
	Logger   *slog.Logger // default: discard
	// Notify broadcasts a notify action (source is the automation id). It
	// is called on an action goroutine and should not block for long.
	Notify func(source, text string)
	// OnControl is called (on the engine goroutine; must not block) when a
	// thermostat's target or an automation's enabled flag changes.
	OnControl func(id string, value any)
	// OnStatus is called (on the engine goroutine; must not block) when a
	// rule's status changes.
	OnStatus func(Status)
	// ClockValid reports whether wall-clock time can be trusted for
	// schedules. Default: SystemClockValid, or always true with config
	// clock: any.
	ClockValid func() bool
	// Location is the zone schedules run in (default time.Local).
	Location *time.Location
	// Restore holds controls saved from a previous run (thermostat id ->
	// target, automation id -> enabled); nil = the config's.
	Restore map[string]any
}

// Engine runs the thermostats and automations of one config.
type Engine struct {
	opts  Options
	log   *slog.Logger
	loc   *time.Location
	valid func() bool
	in    chan func()
	done  chan struct{} // closed when Run returns

	// Controls, readable from any goroutine (Controls, Set's fast checks).
	mu       sync.Mutex
	controls map[string]any

	// Owned by the Run goroutine.
	s *state

	runs sync.WaitGroup // action goroutines
}

// New compiles the config's rules. It fails only on a config that did
// not come from config.Load (an expression that does not compile).
func New(opts Options) (*Engine, error) {
	if opts.Config == nil || opts.Actuator == nil {
		return nil, errors.New("automation: nil config or actuator")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{opts: opts, log: opts.Logger, loc: opts.Location, valid: opts.ClockValid,
		in: make(chan func(), 64), done: make(chan struct{}), controls: map[string]any{}}
	if e.loc == nil {
		e.loc = time.Local
	}
	if e.valid == nil {
		e.valid = SystemClockValid
		if opts.Config.Clock == "any" {
			e.valid = func() bool { return true }
		}
	}
	s, err := newState(e, opts.Config, opts.Restore)
	if err != nil {
		return nil, err
	}
	e.s = s
	for id, v := range s.controlValues() {
		e.controls[id] = v
	}
	return e, nil
}

// Run executes the engine until ctx is done; it then cancels every running
// action sequence and waits for them.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.done)
	s := e.s
	s.ctx, s.cancel = context.WithCancel(ctx)
	defer func() {
		s.cancel()
		e.runs.Wait()
	}()
	s.start(time.Now())
	for {
		now := time.Now()
		s.fireDue(now)
		var wait <-chan time.Time
		var tm *time.Timer
		if at, ok := s.nextTimer(); ok {
			tm = time.NewTimer(max(at.Sub(time.Now()), 0))
			wait = tm.C
		}
		select {
		case <-ctx.Done():
			if tm != nil {
				tm.Stop()
			}
			return nil
		case fn := <-e.in:
			fn()
		case <-wait:
		}
		if tm != nil {
			tm.Stop()
		}
	}
}

// post runs fn on the engine goroutine (in order). It fails once Run has
// returned or ctx is done.
func (e *Engine) post(ctx context.Context, fn func()) error {
	select {
	case e.in <- fn:
		return nil
	case <-e.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call runs fn on the engine goroutine and waits for it.
func (e *Engine) call(ctx context.Context, fn func()) error {
	ch := make(chan struct{})
	if err := e.post(ctx, func() { fn(); close(ch) }); err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-e.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Update kinds.
const (
	UpdateState       = iota + 1 // ID's value is Value (an output, input or other control)
	UpdateMetrics                // sensor Source read Fields
	UpdateSensorError            // sensor Source failed
)

// Update is one value change fed to the engine.
type Update struct {
	Kind   int
	ID     string
	Value  any
	Source string
	Fields map[string]any // read only
}

// Feed hands the engine an update (blocking until it is queued or ctx is
// done).
func (e *Engine) Feed(ctx context.Context, u Update) error {
	return e.post(ctx, func() { e.s.update(u, time.Now()) })
}

// Controls returns the engine's controls for control_snapshot: each
// thermostat id -> its target (float64), each automation id -> enabled.
func (e *Engine) Controls() map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[string]any, len(e.controls))
	for k, v := range e.controls {
		m[k] = v
	}
	return m
}

// Has reports whether id is one of the engine's controls.
func (e *Engine) Has(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.controls[id]
	return ok
}

// Set changes a control as a phone's set/cmd does: a thermostat's target
// (a number in its range) or an automation's enabled flag (bool). Numbers
// and bools may come as their string forms. It returns the new value.
func (e *Engine) Set(ctx context.Context, id string, value any, from string) (any, error) {
	if !e.Has(id) {
		return nil, fmt.Errorf("%w: %q", ErrUnknown, id)
	}
	var out any
	var err error
	if cerr := e.call(ctx, func() { out, err = e.s.setControl(id, value, from, time.Now()) }); cerr != nil {
		return nil, cerr
	}
	return out, err
}

// Status returns every thermostat's and automation's status, by id.
func (e *Engine) Status(ctx context.Context) ([]Status, error) {
	var out []Status
	err := e.call(ctx, func() { out = e.s.statuses(time.Now()) })
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

func (e *Engine) setControl(id string, v any) {
	e.mu.Lock()
	e.controls[id] = v
	e.mu.Unlock()
	if e.opts.OnControl != nil {
		e.opts.OnControl(id, v)
	}
}

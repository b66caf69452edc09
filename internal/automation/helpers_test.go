package automation

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// base is the wiring every test config starts from.
const base = `
outputs:
  - {id: vent_fan, pin: 17}
  - {id: heater, pin: 27}
  - {id: pump, pin: 22}
  - {id: strike, pin: 23, kind: momentary, pulse: 500ms}
  - {id: grow_light, pin: 13, kind: pwm}
inputs:
  - {id: door, pin: 24}
sensors:
  - id: air
    driver: sht3x
    interval: 5s
    fields:
      - {name: air_temp, source: temperature}
      - {name: air_humidity, source: humidity}
`

// applied is one Apply call the fake actuator saw.
type applied struct {
	At     time.Time
	Target string
	Value  any
	From   string
}

func (a applied) String() string {
	return fmt.Sprintf("%s %s=%v (%s)", a.At.Format("15:04:05"), a.Target, a.Value, a.From)
}

// fakeBridge is the Actuator: it records every call and, like the bridge,
// reports the new state back to the engine.
type fakeBridge struct {
	mu      sync.Mutex
	e       *Engine
	calls   []applied
	refuse  map[string]error
	allOffs int
}

func (f *fakeBridge) Apply(ctx context.Context, target string, value any, from string) (any, error) {
	f.mu.Lock()
	f.calls = append(f.calls, applied{time.Now(), target, value, from})
	err := f.refuse[target]
	e := f.e
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if strings.Contains(target, ".") {
		return nil, nil
	}
	_ = e.Feed(ctx, Update{Kind: UpdateState, ID: target, Value: value})
	return value, nil
}

func (f *fakeBridge) AllOff(ctx context.Context) error {
	f.mu.Lock()
	f.allOffs++
	f.mu.Unlock()
	return nil
}

// take returns and forgets the calls so far.
func (f *fakeBridge) take() []applied {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeBridge) setRefuse(target string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse == nil {
		f.refuse = map[string]error{}
	}
	f.refuse[target] = err
}

// syncBuf is a log sink safe for concurrent use.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is a running engine inside a synctest bubble.
type rig struct {
	t      *testing.T
	e      *Engine
	fake   *fakeBridge
	logs   *syncBuf
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	notes  []string
	noteAt []time.Time
	ctrls  map[string]any
	clock  *clockFlag
}

type clockFlag struct {
	mu sync.Mutex
	ok bool
}

func (c *clockFlag) get() bool  { c.mu.Lock(); defer c.mu.Unlock(); return c.ok }
func (c *clockFlag) set(v bool) { c.mu.Lock(); c.ok = v; c.mu.Unlock() }

type rigOpt func(*Options)

func withLocation(l *time.Location) rigOpt { return func(o *Options) { o.Location = l } }

// start loads base+logic and runs an engine; initial feeds the outputs'
// current states (as the box does from the bridge's snapshot).
func start(t *testing.T, logic string, initial map[string]any, opts ...rigOpt) *rig {
	t.Helper()
	return startYAML(t, base+logic, initial, opts...)
}

// startYAML is start on a whole config (wiring of its own, e.g. filters).
func startYAML(t *testing.T, yaml string, initial map[string]any, opts ...rigOpt) *rig {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, fake: &fakeBridge{}, logs: &syncBuf{}, done: make(chan struct{}), ctrls: map[string]any{}, clock: &clockFlag{ok: true}}
	o := Options{
		Config:   cfg,
		Actuator: r.fake,
		Logger:   slog.New(slog.NewTextHandler(r.logs, nil)),
		Notify: func(src, text string) {
			r.mu.Lock()
			r.notes = append(r.notes, src+": "+text)
			r.noteAt = append(r.noteAt, time.Now())
			r.mu.Unlock()
		},
		OnControl: func(id string, v any) {
			r.mu.Lock()
			r.ctrls[id] = v
			r.mu.Unlock()
		},
		ClockValid: r.clock.get,
		Location:   time.UTC,
	}
	for _, f := range opts {
		f(&o)
	}
	r.e, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.fake.e = r.e
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		r.e.Run(ctx)
	}()
	for id, v := range initial {
		r.state(id, v)
	}
	synctest.Wait()
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() {
	r.cancel()
	<-r.done
}

func (r *rig) state(id string, v any) {
	r.t.Helper()
	if err := r.e.Feed(context.Background(), Update{Kind: UpdateState, ID: id, Value: v}); err != nil {
		r.t.Fatal(err)
	}
	synctest.Wait()
}

func (r *rig) metrics(source string, fields map[string]any) {
	r.t.Helper()
	if err := r.e.Feed(context.Background(), Update{Kind: UpdateMetrics, Source: source, Fields: fields}); err != nil {
		r.t.Fatal(err)
	}
	synctest.Wait()
}

func (r *rig) air(temp, hum float64) {
	r.t.Helper()
	r.metrics("air", map[string]any{"air_temp": temp, "air_humidity": hum})
}

func (r *rig) sensorError(source string) {
	r.t.Helper()
	if err := r.e.Feed(context.Background(), Update{Kind: UpdateSensorError, Source: source}); err != nil {
		r.t.Fatal(err)
	}
	synctest.Wait()
}

// wait advances the fake clock by d and lets everything settle.
func (r *rig) wait(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// expect checks that exactly the given "target=value" applies happened
// since the last expect (in order).
func (r *rig) expect(want ...string) {
	r.t.Helper()
	got := r.fake.take()
	var gs []string
	for _, c := range got {
		gs = append(gs, fmt.Sprintf("%s=%v", c.Target, c.Value))
	}
	if strings.Join(gs, " ") != strings.Join(want, " ") {
		r.t.Errorf("applies %q, want %q\n%v", gs, want, got)
	}
}

// expectAny is expect without order (applies from concurrent sources).
func (r *rig) expectAny(want ...string) {
	r.t.Helper()
	got := r.fake.take()
	var gs []string
	for _, c := range got {
		gs = append(gs, fmt.Sprintf("%s=%v", c.Target, c.Value))
	}
	sort.Strings(gs)
	w := append([]string(nil), want...)
	sort.Strings(w)
	if strings.Join(gs, " ") != strings.Join(w, " ") {
		r.t.Errorf("applies %q, want %q (any order)\n%v", gs, w, got)
	}
}

func (r *rig) status(id string) Status {
	r.t.Helper()
	sts, err := r.e.Status(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	for _, s := range sts {
		if s.ID == id {
			return s
		}
	}
	r.t.Fatalf("no status for %s", id)
	return Status{}
}

func (r *rig) wantState(id, state string) {
	r.t.Helper()
	if s := r.status(id); s.State != state {
		r.t.Errorf("%s state %q, want %q (%+v)", id, s.State, state, s)
	}
}

func (r *rig) wantLog(sub string) {
	r.t.Helper()
	if !strings.Contains(r.logs.String(), sub) {
		r.t.Errorf("log lacks %q:\n%s", sub, r.logs.String())
	}
}

// sleepUntil moves the fake clock to t (before starting an engine).
func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

var allOff = map[string]any{"vent_fan": false, "heater": false, "pump": false, "strike": false, "grow_light": 0.0, "door": false}

// noteTimes returns when notifications came, in loc.
func (r *rig) noteTimes(loc *time.Location) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, t := range r.noteAt {
		out = append(out, t.In(loc).Format("2006-01-02 15:04:05 MST"))
	}
	return out
}

func (r *rig) getNotes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.notes...)
}

func (r *rig) ctrl(id string) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ctrls[id]
}

func (f *fakeBridge) allOffCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.allOffs
}

func mustConfig(t *testing.T, logic string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(base+logic))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

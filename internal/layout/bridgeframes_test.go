package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/automation"
	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/sensor"
	"periph.io/x/conn/v3/i2c"
)

// engineRef serves the automation engine's controls through the bridge
// (as internal/box does).
type engineRef struct{ e *automation.Engine }

func (r *engineRef) Has(id string) bool { return r.e != nil && r.e.Has(id) }
func (r *engineRef) Set(ctx context.Context, id string, v any, from string) (any, error) {
	return r.e.Set(ctx, id, v, from)
}

// This file runs the real bridge on a small fake board and records the
// broadcast frames it sends, so layouts are checked against what the bridge
// actually emits rather than against shapes copied from its docs.

type fakeBoard struct {
	mu     sync.Mutex
	inputs []*fakeInput
	cfg    *config.Config
}

type fakeOutput struct {
	mu    sync.Mutex
	level bool
}

func (o *fakeOutput) Out(l bool) error { o.mu.Lock(); o.level = l; o.mu.Unlock(); return nil }
func (o *fakeOutput) Level() bool      { o.mu.Lock(); defer o.mu.Unlock(); return o.level }
func (o *fakeOutput) String() string   { return "fake-out" }

type fakeInput struct {
	mu    sync.Mutex
	level bool
	edges chan gpio.Edge
}

func (i *fakeInput) Read() (bool, error) { i.mu.Lock(); defer i.mu.Unlock(); return i.level, nil }
func (i *fakeInput) WaitForEdge(ctx context.Context) (gpio.Edge, error) {
	select {
	case e := <-i.edges:
		return e, nil
	case <-ctx.Done():
		return gpio.Edge{}, ctx.Err()
	}
}
func (i *fakeInput) String() string { return "fake-in" }

// flip toggles the line and reports the edge.
func (i *fakeInput) flip() {
	i.mu.Lock()
	i.level = !i.level
	l := i.level
	i.mu.Unlock()
	i.edges <- gpio.Edge{Level: l, Time: time.Now()}
}

type fakePWM struct {
	mu   sync.Mutex
	duty float64
}

func (p *fakePWM) Set(_ float64, d float64) error { p.mu.Lock(); p.duty = d; p.mu.Unlock(); return nil }
func (p *fakePWM) Duty() float64                  { p.mu.Lock(); defer p.mu.Unlock(); return p.duty }
func (p *fakePWM) String() string                 { return "fake-pwm" }

// fakeSerial yields one line per configured field (or one text line) and
// then idles like a quiet device until closed.
type fakeSerial struct {
	mu     sync.Mutex
	data   []byte
	closed chan struct{}
	once   sync.Once
}

func (s *fakeSerial) Read(p []byte) (int, error) {
	s.mu.Lock()
	if len(s.data) > 0 {
		n := copy(p, s.data)
		s.data = s.data[n:]
		s.mu.Unlock()
		return n, nil
	}
	s.mu.Unlock()
	select {
	case <-s.closed:
		return 0, io.EOF
	case <-time.After(20 * time.Millisecond):
		return 0, nil
	}
}
func (s *fakeSerial) Write(p []byte) (int, error)        { return len(p), nil }
func (s *fakeSerial) SetReadTimeout(time.Duration) error { return nil }
func (s *fakeSerial) Close() error                       { s.once.Do(func() { close(s.closed) }); return nil }

func (b *fakeBoard) Output(gpio.Line, bool) (gpio.Output, error) { return &fakeOutput{}, nil }
func (b *fakeBoard) Input(gpio.Line, gpio.Pull) (gpio.Input, error) {
	in := &fakeInput{edges: make(chan gpio.Edge, 4)}
	b.mu.Lock()
	b.inputs = append(b.inputs, in)
	b.mu.Unlock()
	return in, nil
}
func (b *fakeBoard) PWM(gpio.PWMRef) (gpio.PWM, error) { return &fakePWM{}, nil }
func (b *fakeBoard) I2C(string) (i2c.BusCloser, error) { return nil, gpio.ErrUnsupported }
func (b *fakeBoard) ReadFile(string) ([]byte, error)   { return nil, os.ErrNotExist }
func (b *fakeBoard) String() string                    { return "fake board" }
func (b *fakeBoard) Close() error                      { return nil }
func (b *fakeBoard) Serial(port string, _ int) (gpio.SerialPort, error) {
	for _, d := range b.cfg.Serial {
		if d.Port != port {
			continue
		}
		var line string
		switch d.Framing {
		case config.FramingText:
			line = "hello from " + d.ID + "\n"
		case config.FramingJSON:
			m := map[string]any{}
			for i, f := range d.Fields {
				m[fieldSource(f)] = float64(i) + 1.5
			}
			j, _ := json.Marshal(m)
			line = string(j) + "\n"
		default:
			for i, f := range d.Fields {
				line += fmt.Sprintf("%s=%g ", fieldSource(f), float64(i)+1.5)
			}
			line += "\n"
		}
		return &fakeSerial{data: []byte(line), closed: make(chan struct{})}, nil
	}
	return nil, errors.New("no such port")
}

func fieldSource(f config.Field) string {
	if f.Source != "" {
		return f.Source
	}
	return f.Name
}

// fakeReader returns mid-range values for every field of the driver.
type fakeReader struct{ fields []sensor.FieldInfo }

func (r fakeReader) Read(context.Context) (map[string]float64, error) {
	out := map[string]float64{}
	for _, f := range r.fields {
		out[f.Name] = (f.Min + f.Max) / 2
	}
	return out, nil
}
func (fakeReader) Close() error { return nil }

// recordingMesh records the broadcast payloads a relay member would send:
// every bridge event, encoded with bridge.Frame.
type recordingMesh struct {
	prefix string // the frames as a member with this prefix sends them (an upstream link)
	mu     sync.Mutex
	frames []any
}

func (m *recordingMesh) record(b *bridge.Bridge, sub *bridge.Subscription) {
	for ev := range sub.C() {
		raw, ok := b.Frame(ev, m.prefix)
		if !ok {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			panic(err)
		}
		m.mu.Lock()
		m.frames = append(m.frames, v)
		m.mu.Unlock()
	}
}

func (m *recordingMesh) snapshot() []any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]any(nil), m.frames...)
}

// substitute applies the app's {{value}} rule to an action payload: a string
// that is exactly "{{value}}" takes the native value.
func substitute(p map[string]any, value any) map[string]any {
	out := make(map[string]any, len(p))
	for k, v := range p {
		if s, ok := v.(string); ok && s == "{{value}}" {
			out[k] = value
			continue
		}
		out[k] = v
	}
	return out
}

// bridgeFrames runs the real bridge for cfg on a fake board, fires every
// action of the layout the way the app would (toggle true, slider 42, button
// tap), flips every input, and returns every broadcast payload the bridge
// sent (decoded JSON).
func bridgeFrames(t *testing.T, cfg *config.Config, l *Layout) []any {
	t.Helper()
	return bridgeFramesAs(t, cfg, l, "", l)
}

// bridgeFramesAs is bridgeFrames with the frames as a member with prefix
// sends them (an upstream link: ids prefixed); it stops waiting once
// check validates against them.
func bridgeFramesAs(t *testing.T, cfg *config.Config, l *Layout, prefix string, check *Layout) []any {
	t.Helper()
	cfg.StateDir = t.TempDir()
	cfg.ActuationRate = 100
	board := &fakeBoard{cfg: cfg}
	ref := &engineRef{}
	b, err := bridge.New(cfg, board, bridge.Options{
		Controls: ref,
		OpenSensor: func(_ gpio.Host, s config.Sensor) (bridge.SensorReader, error) {
			d, err := sensor.Lookup(s.Driver)
			if err != nil {
				return nil, err
			}
			return fakeReader{fields: d.Fields}, nil
		},
	})
	if err != nil {
		t.Fatalf("bridge.New: %v", err)
	}
	mesh := &recordingMesh{prefix: prefix}
	sub := b.Subscribe("layout test", bridge.SubscribeOptions{Queue: 4096})
	recorded := make(chan struct{})
	go func() { defer close(recorded); mesh.record(b, sub) }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	autoDone := make(chan struct{})
	close(autoDone)
	if len(cfg.Thermostats)+len(cfg.Automations) > 0 {
		// The automation engine as the box wires it (internal/box).
		e, err := automation.New(automation.Options{Config: cfg, Actuator: b, Notify: b.Notify,
			OnControl: b.SetControl,
			OnStatus: func(s automation.Status) {
				for _, v := range automation.StatusValues(s, nil) {
					b.SetControl(v.ID, v.Value)
				}
			},
			ClockValid: func() bool { return true }})
		if err != nil {
			t.Fatal(err)
		}
		ref.e = e
		for id, v := range e.Controls() {
			b.SetControl(id, v)
		}
		autoDone = make(chan struct{})
		go func() { defer close(autoDone); _ = e.Run(ctx) }()
		b.Notify("rule", "a notification")
	}
	defer func() {
		cancel()
		<-done
		<-autoDone
		sub.Close()
		<-recorded
		b.Shutdown()
	}()

	for _, tab := range l.Tabs {
		for _, c := range tab.Children {
			if c.Action == nil {
				continue
			}
			var v any = true
			if c.Type == "slider" {
				v = 42.0
			}
			if c.Type == "stepper" && c.Min != nil {
				v = *c.Min
			}
			raw, err := json.Marshal(substitute(c.Action.Payload, v))
			if err != nil {
				t.Fatal(err)
			}
			b.HandleBroadcast(ctx, raw)
		}
	}
	board.mu.Lock()
	inputs := append([]*fakeInput(nil), board.inputs...)
	board.mu.Unlock()
	for _, in := range inputs {
		in.flip()
	}
	// Wait until every sync of the layout has a frame, or give up after 3s
	// and let Validate report what is missing.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		// (No frame at all means "no frame check" to ValidateLayout.)
		if f := mesh.snapshot(); len(f) > 0 && ValidateLayout(check, f) == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return mesh.snapshot()
}

package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/phonetest"
	"go.bug.st/serial"
	"periph.io/x/conn/v3/i2c"
)

// fakeHost is a minimal gpio.Host recording every write.
type fakeHost struct {
	mu      sync.Mutex
	outs    map[int]*fakeOut
	ins     map[int]*fakeIn
	pwms    map[int]*fakePWM
	onWrite func() // called with mu held after every output write
	failOut map[int]bool
	serial  func(port string, baud int) (gpio.SerialPort, error)
}

func newFakeHost() *fakeHost {
	return &fakeHost{outs: map[int]*fakeOut{}, ins: map[int]*fakeIn{}, pwms: map[int]*fakePWM{}, failOut: map[int]bool{}}
}

type fakeOut struct {
	h      *fakeHost
	n      int
	level  bool
	writes int
}

func (o *fakeOut) Out(l bool) error {
	o.h.mu.Lock()
	defer o.h.mu.Unlock()
	if o.h.failOut[o.n] {
		return errors.New("line busy")
	}
	o.level = l
	o.writes++
	if o.h.onWrite != nil {
		o.h.onWrite()
	}
	return nil
}
func (o *fakeOut) Level() bool {
	o.h.mu.Lock()
	defer o.h.mu.Unlock()
	return o.level
}
func (o *fakeOut) String() string { return fmt.Sprintf("GPIO%d", o.n) }

type fakeIn struct {
	mu    sync.Mutex
	n     int
	level bool
	edges chan gpio.Edge
}

func (i *fakeIn) Read() (bool, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.level, nil
}
func (i *fakeIn) WaitForEdge(ctx context.Context) (gpio.Edge, error) {
	select {
	case e := <-i.edges:
		return e, nil
	case <-ctx.Done():
		return gpio.Edge{}, ctx.Err()
	}
}
func (i *fakeIn) String() string { return fmt.Sprintf("GPIO%d", i.n) }

// set changes the level and queues an edge.
func (i *fakeIn) set(l bool) {
	i.mu.Lock()
	i.level = l
	i.mu.Unlock()
	i.edges <- gpio.Edge{Level: l, Time: time.Now()}
}

type fakePWM struct {
	h          *fakeHost
	freq, duty float64
}

func (p *fakePWM) Set(f, d float64) error {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	p.freq, p.duty = f, d
	return nil
}
func (p *fakePWM) Duty() float64 {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	return p.duty
}
func (p *fakePWM) String() string { return "pwm" }

func (h *fakeHost) Output(l gpio.Line, initial bool) (gpio.Output, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := &fakeOut{h: h, n: l.Offset, level: initial}
	h.outs[l.Offset] = o
	return o, nil
}
func (h *fakeHost) Input(l gpio.Line, pull gpio.Pull) (gpio.Input, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := &fakeIn{n: l.Offset, edges: make(chan gpio.Edge, 16), level: pull == gpio.PullUp}
	h.ins[l.Offset] = i
	return i, nil
}
func (h *fakeHost) PWM(r gpio.PWMRef) (gpio.PWM, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := &fakePWM{h: h}
	h.pwms[r.Pin] = p
	return p, nil
}
func (h *fakeHost) I2C(string) (i2c.BusCloser, error) { return nil, gpio.ErrUnsupported }
func (h *fakeHost) Serial(port string, baud int) (gpio.SerialPort, error) {
	if h.serial != nil {
		return h.serial(port, baud)
	}
	return openSerial(port, baud)
}
func (h *fakeHost) ReadFile(string) ([]byte, error) { return nil, gpio.ErrUnsupported }
func (h *fakeHost) String() string                  { return "fake" }
func (h *fakeHost) Close() error                    { return nil }

func (h *fakeHost) level(n int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.outs[n].level
}

// serialPort adapts go.bug.st/serial to gpio.SerialPort.
type serialPort struct{ serial.Port }

func (p serialPort) SetReadTimeout(d time.Duration) error {
	if d == 0 {
		d = serial.NoTimeout
	}
	return p.Port.SetReadTimeout(d)
}

func openSerial(port string, baud int) (gpio.SerialPort, error) {
	p, err := serial.Open(port, &serial.Mode{BaudRate: baud})
	if err != nil {
		return nil, err
	}
	return serialPort{p}, nil
}

// fakeMesh records the broadcast payloads a member would send: it
// subscribes to the bridge's events and encodes them with Frame.
type fakeMesh struct {
	mu     sync.Mutex
	frames []map[string]any
	ch     chan map[string]any
	sub    *Subscription
	done   chan struct{}
	syncs  int
}

func newFakeMesh(b *Bridge) *fakeMesh {
	m := &fakeMesh{ch: make(chan map[string]any, 4096), done: make(chan struct{}),
		sub: b.Subscribe("test", SubscribeOptions{Queue: 4096})}
	go func() {
		defer close(m.done)
		for ev := range m.sub.C() {
			raw, ok := b.Frame(ev, "")
			if !ok {
				continue
			}
			var v map[string]any
			if err := json.Unmarshal(raw, &v); err != nil {
				panic(err)
			}
			m.mu.Lock()
			m.frames = append(m.frames, v)
			m.mu.Unlock()
			select {
			case m.ch <- v:
			default:
			}
		}
	}()
	return m
}

func (m *fakeMesh) close() {
	m.sub.Close()
	<-m.done
}

// sync waits until every event published before it has been recorded (a
// snapshot addressed to a marker goes through the same queue).
func (m *fakeMesh) sync(t *testing.T, b *Bridge) {
	t.Helper()
	m.syncs++
	to := fmt.Sprintf("sync-%d", m.syncs)
	b.SendSnapshot(to)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		for _, f := range m.frames {
			if f["msg_type"] == "control_snapshot" && f["to"] == to {
				m.mu.Unlock()
				return
			}
		}
		m.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", to)
}

// wait returns the next frame for which match is true, skipping others.
func (m *fakeMesh) wait(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f := <-m.ch:
			if match(f) {
				return f
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (m *fakeMesh) all() []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]map[string]any(nil), m.frames...)
}

// isMsg matches a broadcast payload by msg_type and key/value pairs.
func isMsg(mt string, kv ...any) func(map[string]any) bool { return phonetest.Msg(mt, kv...).Matches }

func bcm(n int) config.Pin { return config.Pin{BCM: n, Raw: fmt.Sprint(n)} }

// fakeSensor returns fixed readings or errors.
type fakeSensor struct {
	mu    sync.Mutex
	fail  error
	vals  map[string]float64
	reads int
}

func (s *fakeSensor) Read(context.Context) (map[string]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.fail != nil {
		return nil, s.fail
	}
	out := map[string]float64{}
	for k, v := range s.vals {
		out[k] = v
	}
	return out, nil
}
func (s *fakeSensor) Close() error { return nil }
func (s *fakeSensor) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

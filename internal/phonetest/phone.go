package phonetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/wire"
)

// welcomeTimeout bounds the wait for welcome after identify.
const welcomeTimeout = 5 * time.Second

// Options is what a phone identifies with. Empty strings are left out of
// the identify payload (the relay's defaults apply).
type Options struct {
	Name, Token, Channel, Role string
	// Flags are further identify fields, e.g. "can_broadcast": true.
	Flags map[string]any
	// Header is sent with the WebSocket handshake (e.g. Origin).
	Header http.Header
}

// App is how the phone app joins: role controller on channel home, allowed
// to broadcast.
func App(name, token string) Options {
	return Options{Name: name, Token: token, Channel: "home", Role: "controller",
		Flags: map[string]any{"can_broadcast": true}}
}

func (o Options) identify() map[string]any {
	id := map[string]any{}
	for k, v := range o.Flags {
		id[k] = v
	}
	for k, v := range map[string]string{"name": o.Name, "token": o.Token, "channel": o.Channel, "role": o.Role} {
		if v != "" {
			id[k] = v
		}
	}
	return id
}

// Phone is one joined member. Its reader goroutine queues every frame.
type Phone struct {
	t       testing.TB
	name    string
	conn    *websocket.Conn
	welcome wire.Frame

	wmu sync.Mutex // one writer at a time

	mu      sync.Mutex
	queue   []wire.Frame
	wake    chan struct{} // closed and replaced when a frame is queued or the reader ends
	readErr error         // why the reader ended (set before done is closed)
	done    chan struct{}

	closeOnce sync.Once
}

// Dial joins url as o and waits for welcome; it fails the test if the
// phone cannot connect or is refused. The phone is closed at cleanup.
func Dial(t testing.TB, url string, o Options) *Phone {
	t.Helper()
	p, err := TryDial(t, url, o)
	if err != nil {
		t.Fatalf("phone %s: %v", o.Name, err)
	}
	return p
}

// TryDial is Dial returning the error instead: a handshake error, or the
// read error (a *websocket.CloseError when the relay refuses) that came
// before welcome. A dial refused while the server is still starting is
// retried for up to 2 s.
func TryDial(t testing.TB, url string, o Options) (*Phone, error) {
	t.Helper()
	var c *websocket.Conn
	var err error
	for i := 0; i < 100; i++ {
		if c, _, err = websocket.DefaultDialer.Dial(url, o.Header); err == nil || errors.Is(err, websocket.ErrBadHandshake) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	p := &Phone{t: t, name: o.Name, conn: c, wake: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(p.Close)
	if err := p.Write(wire.Frame{ID: wire.NewID(), Type: "identify", Payload: mustJSON(t, o.identify())}); err != nil {
		return nil, p.fail(fmt.Errorf("identify: %w", err))
	}
	_ = c.SetReadDeadline(time.Now().Add(welcomeTimeout))
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return nil, p.fail(fmt.Errorf("waiting for welcome: %w", err))
		}
		f, err := wire.Decode(msg)
		if err != nil {
			continue
		}
		if f.Type == "welcome" {
			p.welcome = f
			break
		}
		p.queue = append(p.queue, f) // a frame before welcome is kept
	}
	_ = c.SetReadDeadline(time.Time{})
	go p.read()
	return p, nil
}

// fail ends a phone whose reader never started.
func (p *Phone) fail(err error) error {
	_ = p.conn.Close()
	p.mu.Lock()
	p.readErr = err
	close(p.wake)
	p.mu.Unlock()
	close(p.done)
	return err
}

func (p *Phone) read() {
	defer close(p.done)
	for {
		_, msg, err := p.conn.ReadMessage()
		if err != nil {
			p.mu.Lock()
			p.readErr = err
			close(p.wake)
			p.mu.Unlock()
			return
		}
		f, err := wire.Decode(msg)
		if err != nil {
			continue
		}
		p.mu.Lock()
		p.queue = append(p.queue, f)
		close(p.wake)
		p.wake = make(chan struct{})
		p.mu.Unlock()
	}
}

// Name is the name the phone identified with.
func (p *Phone) Name() string { return p.name }

// Welcome is the welcome frame the relay admitted the phone with.
func (p *Phone) Welcome() wire.Frame { return p.welcome }

// Close closes the connection and waits for the reader; it is idempotent.
func (p *Phone) Close() {
	p.closeOnce.Do(func() {
		_ = p.conn.Close()
		select {
		case <-p.done:
		case <-time.After(welcomeTimeout):
		}
	})
}

// WaitClosed waits up to d for the server to end the connection and
// returns the read error that ended it (a *websocket.CloseError for a
// close frame).
func (p *Phone) WaitClosed(d time.Duration) error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.readErr
	case <-time.After(d):
		return fmt.Errorf("phone %s: connection still open after %v", p.name, d)
	}
}

// Next returns the next received frame without failing the test (for use
// from goroutines): the error is ctx's, or the read error once the
// connection has ended and every frame was taken.
func (p *Phone) Next(ctx context.Context) (wire.Frame, error) {
	for {
		p.mu.Lock()
		if len(p.queue) > 0 {
			f := p.queue[0]
			p.queue = p.queue[1:]
			p.mu.Unlock()
			return f, nil
		}
		wake, ended := p.wake, p.readErr
		p.mu.Unlock()
		if ended != nil {
			return wire.Frame{}, ended
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return wire.Frame{}, ctx.Err()
		}
	}
}

// Write sends one frame without failing the test (for use from goroutines).
func (p *Phone) Write(f wire.Frame) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.conn.WriteMessage(websocket.TextMessage, wire.Encode(f))
}

// Reply answers req with payload (same type, reply_to req's id).
func (p *Phone) Reply(req wire.Frame, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	return p.Write(wire.Frame{ID: wire.NewID(), Type: req.Type, Payload: raw, ReplyTo: req.ID})
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("phone: payload %v: %v", v, err)
	}
	return raw
}

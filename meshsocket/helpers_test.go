package meshsocket

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshbox/meshbox/meshsocket/meshsockettest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// relayImpl builds one relay implementation behind an http.Handler.
type relayImpl struct {
	name string
	// new returns a fresh relay: its handler and a function closing every
	// connection it holds.
	new func(t *testing.T, token string) (http.Handler, func())
}

func relayImpls() []relayImpl {
	impls := []relayImpl{{
		name: "testrelay",
		new: func(t *testing.T, token string) (http.Handler, func()) {
			r := meshsockettest.New()
			r.Token = token
			return r, r.Close
		},
	}}
	return append(impls, meshboxRelays()...)
}

// liveRelay serves a relay on a fixed loopback port and can be stopped and
// started again on the same port.
type liveRelay struct {
	t     *testing.T
	impl  relayImpl
	token string
	addr  string

	mu      sync.Mutex
	handler http.Handler
	closeH  func()
	srv     *http.Server
	done    chan struct{}
}

func startRelay(t *testing.T, impl relayImpl, token string) *liveRelay {
	t.Helper()
	l := &liveRelay{t: t, impl: impl, token: token, addr: "127.0.0.1:0"}
	l.start()
	t.Cleanup(l.stop)
	return l
}

func (l *liveRelay) start() {
	l.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger briefly
		if ln, err = net.Listen("tcp", l.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		l.t.Fatalf("listen %s: %v", l.addr, err)
	}
	h, closeH := l.impl.new(l.t, l.token)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	l.mu.Lock()
	l.addr = ln.Addr().String()
	l.handler, l.closeH, l.srv, l.done = h, closeH, srv, done
	l.mu.Unlock()
}

func (l *liveRelay) stop() {
	l.mu.Lock()
	srv, closeH, done := l.srv, l.closeH, l.done
	l.srv = nil
	l.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	closeH()
	<-done
}

func (l *liveRelay) url() string { return "ws://" + l.addr + "/path?x=1" }

func (l *liveRelay) testRelay() *meshsockettest.Relay {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, _ := l.handler.(*meshsockettest.Relay)
	return r
}

// fastOpts are Options with test-sized timings.
func fastOpts(url, name string) Options {
	return Options{
		URL:            url,
		Name:           name,
		Token:          testToken,
		Channel:        "test",
		Role:           "node",
		CanBroadcast:   Bool(true),
		CanRoute:       Bool(true),
		MinBackoff:     20 * time.Millisecond,
		MaxBackoff:     100 * time.Millisecond,
		WelcomeTimeout: 2 * time.Second,
	}
}

const testToken = "test-token"

// startClient starts a client and waits until it is ready.
func startClient(t *testing.T, opts Options) *Client {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start %s: %v", opts.Name, err)
	}
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// recv waits for one value on ch.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func isRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re) && strings.Contains(err.Error(), "relay refused identify")
}

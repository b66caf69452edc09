package links

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/wire"
)

const testToken = "links-test-token"

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// relayOn serves a fresh relay on addr ("127.0.0.1:0" for any port) until
// stop; it returns the ws:// URL.
type relayServer struct {
	srv  *relay.Server
	hs   *http.Server
	addr string
	tls  bool // served over TLS: wss://
}

func startRelay(t testing.TB, addr string) *relayServer {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger briefly after a restart
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	r := &relayServer{srv: relay.New(relay.Config{AuthToken: testToken}, testLogger(t)), addr: ln.Addr().String()}
	r.hs = &http.Server{Handler: r.srv}
	go r.hs.Serve(ln)
	t.Cleanup(r.stop)
	return r
}

func (r *relayServer) url() string {
	if r.tls {
		return "wss://" + r.addr + "/"
	}
	return "ws://" + r.addr + "/"
}

func (r *relayServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r.srv.Close(ctx)
	r.hs.Close()
}

// box is a bridge on a simulated board, joined to its own relay through
// the pipe, as the meshbox process runs it.
type box struct {
	b     *bridge.Bridge
	board *simhost.Board
	relay *relayServer
}

func fastDemo(name string) *config.Config {
	cfg := config.Demo()
	cfg.Name = name
	cfg.StateDir = ""
	for i := range cfg.Sensors {
		cfg.Sensors[i].Interval = 100 * time.Millisecond
	}
	return cfg
}

func startBox(t testing.TB, cfg *config.Config) *box {
	t.Helper()
	board := simhost.New(simhost.Options{Seed: 3})
	b, err := bridge.New(cfg, board, bridge.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	rs := startRelay(t, "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	jctx, jcancel := context.WithTimeout(ctx, 5*time.Second)
	defer jcancel()
	mem, err := b.Join(jctx, bridge.JoinOptions{Token: testToken, Dial: func(ctx context.Context) (wire.Transport, error) {
		return rs.srv.Pipe(ctx, "bridge")
	}})
	if err != nil || !mem.Ready() {
		t.Fatalf("bridge did not join its relay: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		mem.Close()
		b.Shutdown()
		board.Close()
	})
	return &box{b: b, board: board, relay: rs}
}

// phone is a raw WebSocket client acting like the app.
type phone struct {
	t    testing.TB
	c    *websocket.Conn
	in   chan map[string]any
	done chan struct{}
}

func dialPhone(t testing.TB, url, name string) *phone {
	t.Helper()
	return dialPhoneWith(t, websocket.DefaultDialer, url, name)
}

// dialPhoneWith dials with d (a TLS dialer for wss://).
func dialPhoneWith(t testing.TB, d *websocket.Dialer, url, name string) *phone {
	t.Helper()
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	p := &phone{t: t, c: c, in: make(chan map[string]any, 8192), done: make(chan struct{})}
	p.send("identify", map[string]any{"name": name, "token": testToken, "channel": "home", "role": "controller", "can_broadcast": true, "can_route": true})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for welcome: %v", err)
		}
		if f, _ := wire.Decode(msg); f.Type == "welcome" {
			break
		}
	}
	c.SetReadDeadline(time.Time{})
	go func() {
		defer close(p.done)
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			f, err := wire.Decode(msg)
			if err != nil || f.Type != "broadcast" {
				continue
			}
			var m map[string]any
			if json.Unmarshal(f.Payload, &m) == nil {
				select {
				case p.in <- m:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-p.done })
	return p
}

func (p *phone) send(typ string, payload any) {
	raw, _ := json.Marshal(payload)
	if err := p.c.WriteMessage(websocket.TextMessage, wire.Encode(wire.Frame{ID: wire.NewID(), Type: typ, Payload: raw})); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *phone) broadcast(payload string) { p.send("broadcast_request", json.RawMessage(payload)) }

func (p *phone) wait(what string, timeout time.Duration, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f := <-p.in:
			if match(f) {
				return f
			}
		case <-deadline:
			p.t.Fatalf("phone: timed out after %v waiting for %s", timeout, what)
		}
	}
}

func isMsg(mt string, kv ...any) func(map[string]any) bool {
	return func(f map[string]any) bool {
		if f["msg_type"] != mt {
			return false
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if f[kv[i].(string)] != kv[i+1] {
				return false
			}
		}
		return true
	}
}

func has(key string) func(map[string]any) bool {
	return func(f map[string]any) bool { _, ok := f[key]; return ok }
}

func and(fs ...func(map[string]any) bool) func(map[string]any) bool {
	return func(m map[string]any) bool {
		for _, f := range fs {
			if !f(m) {
				return false
			}
		}
		return true
	}
}

package main

// Helpers for the mqtt:/upstream: end-to-end tests (e2e_mqtt_test.go,
// e2e_upstream_test.go): a meshbox served in-process on the simulated
// board, a phone, and a TCP proxy that can keep a box off a relay.

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/wire"
)

// lkConfig writes examples/demo.yaml as box name, sensors every 200ms,
// plus extra YAML, and returns its path.
func lkConfig(t *testing.T, name, extra string) string {
	t.Helper()
	demo, err := os.ReadFile(filepath.Join("..", "..", "examples", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(demo), "name: meshbox", "name: "+name, 1)
	y = strings.ReplaceAll(y, "interval: 2s", "interval: 200ms")
	p := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(p, []byte(y+"\n"+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// lkBox is one meshbox process run in-process (serve, as run() does).
type lkBox struct {
	t        *testing.T
	addr     string
	board    *simhost.Board
	logs     *syncBuffer
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
}

// lkServe serves a meshbox with config on addr ("127.0.0.1:0": any port).
func lkServe(t *testing.T, addr, config, token, stateDir string, board *simhost.Board) *lkBox {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ { // a restarted box takes its old port again
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MESH_AUTH_TOKEN": token, "MESHBOX_STATE_DIR": stateDir, "XDG_STATE_HOME": stateDir}
	bx := &lkBox{t: t, addr: ln.Addr().String(), board: board, logs: &syncBuffer{}, done: make(chan error, 1)}
	e := &Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: bx.logs}
	ctx, cancel := context.WithCancel(withSimBoard(context.Background(), board))
	bx.cancel = cancel
	args := []string{"-sim", "-config", config}
	go func() { bx.done <- serve(ctx, e, args, ln) }()
	t.Cleanup(func() {
		bx.stop()
		if t.Failed() {
			t.Logf("meshbox %s log:\n%s", bx.addr, bx.logs.String())
		}
	})
	return bx
}

func (bx *lkBox) url(path string) string { return "ws://" + bx.addr + path }

// stop is SIGTERM: it returns when serve has returned.
func (bx *lkBox) stop() {
	bx.stopOnce.Do(func() {
		bx.cancel()
		select {
		case err := <-bx.done:
			if err != nil {
				bx.t.Errorf("serve %s: %v", bx.addr, err)
			}
		case <-time.After(15 * time.Second):
			bx.t.Errorf("serve %s did not stop", bx.addr)
		}
	})
}

// lkPhone is a raw WebSocket member like the app.
type lkPhone struct {
	t  *testing.T
	c  *websocket.Conn
	in chan map[string]any
}

func lkJoin(t *testing.T, url, name, token string) *lkPhone {
	t.Helper()
	var c *websocket.Conn
	var err error
	for i := 0; i < 100; i++ { // serve may still be starting
		if c, _, err = websocket.DefaultDialer.Dial(url, nil); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	p := &lkPhone{t: t, c: c, in: make(chan map[string]any, 8192)}
	p.send("identify", map[string]any{"name": name, "token": token, "channel": "home", "role": "controller", "can_broadcast": true})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s waiting for welcome: %v", name, err)
		}
		if f, _ := wire.Decode(msg); f.Type == "welcome" {
			break
		}
	}
	c.SetReadDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if f, err := wire.Decode(msg); err == nil && f.Type == "broadcast" {
				var m map[string]any
				if json.Unmarshal(f.Payload, &m) == nil {
					select {
					case p.in <- m:
					default:
					}
				}
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return p
}

func (p *lkPhone) send(typ string, payload any) {
	p.t.Helper()
	raw, _ := json.Marshal(payload)
	if err := p.c.WriteMessage(websocket.TextMessage, wire.Encode(wire.Frame{ID: wire.NewID(), Type: typ, Payload: raw})); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *lkPhone) broadcast(payload string) { p.send("broadcast_request", json.RawMessage(payload)) }

func (p *lkPhone) wait(what string, d time.Duration, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-p.in:
			if match(f) {
				return f
			}
		case <-deadline:
			p.t.Fatalf("phone: no %s within %v", what, d)
		}
	}
}

func lkMsg(mt string, kv ...any) func(map[string]any) bool {
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

// lkSnapshotWith matches a control_snapshot holding id.
func lkSnapshotWith(id string, unsolicited bool) func(map[string]any) bool {
	return func(f map[string]any) bool {
		c, _ := f["controls"].(map[string]any)
		_, ok := c[id]
		return f["msg_type"] == "control_snapshot" && ok && (!unsolicited || f["to"] == nil)
	}
}

// lkProxy forwards TCP connections to target while open; closed, it
// refuses them (a network between a box and its upstream).
type lkProxy struct {
	ln     net.Listener
	target string
	open   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func lkStartProxy(t *testing.T, target string) *lkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lkProxy{ln: ln, target: target}
	p.open.Store(true)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.open.Load() {
				c.Close()
				continue
			}
			go p.forward(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *lkProxy) forward(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, u)
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src) // ends when either side closes
		dst.Close()
		src.Close()
	}
	go pipe(u, c)
	go pipe(c, u)
}

func (p *lkProxy) url() string { return "ws://" + p.ln.Addr().String() + "/" }

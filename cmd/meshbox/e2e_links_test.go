package main

// Helpers for the mqtt:/upstream: end-to-end tests (e2e_mqtt_test.go,
// e2e_upstream_test.go): a meshbox served in-process on the simulated
// board, a control_snapshot matcher for phonetest phones, and a TCP proxy
// that can keep a box off a relay.

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/gpio/simhost"
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
	logs     *syncBuf
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
	bx := &lkBox{t: t, addr: ln.Addr().String(), board: board, logs: &syncBuf{}, done: make(chan error, 1)}
	e := &Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: bx.logs}
	ctx, cancel := context.WithCancel(context.Background())
	bx.cancel = cancel
	args := []string{"-sim", "-config", config}
	go func() { bx.done <- serve(ctx, e, args, serveHooks{ln: ln, board: board}) }()
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

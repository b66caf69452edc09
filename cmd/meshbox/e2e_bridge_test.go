package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/wire"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// e2ePhone is a raw WebSocket member like the app (role controller).
type e2ePhone struct {
	t  *testing.T
	c  *websocket.Conn
	in chan map[string]any
}

func joinPhone(t *testing.T, url, token string) *e2ePhone {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	p := &e2ePhone{t: t, c: c, in: make(chan map[string]any, 1024)}
	p.send("identify", map[string]any{"name": "iPhone", "token": token, "channel": "home", "role": "controller", "can_broadcast": true})
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
					default: // a test that stopped reading
					}
				}
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return p
}

func (p *e2ePhone) send(typ string, payload any) {
	p.t.Helper()
	raw, _ := json.Marshal(payload)
	if err := p.c.WriteMessage(websocket.TextMessage, wire.Encode(wire.Frame{ID: wire.NewID(), Type: typ, Payload: raw})); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *e2ePhone) wait(what string, d time.Duration, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case f := <-p.in:
			if match(f) {
				return f
			}
		case <-timeout:
			p.t.Fatalf("phone: timed out waiting for %s", what)
			return nil
		}
	}
}

func msgIs(mt string, kv ...any) func(map[string]any) bool {
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

// highIntervals returns the [on, off) intervals of an output's history.
func highIntervals(h []simhost.Change, end time.Time) [][2]time.Time {
	var out [][2]time.Time
	var on time.Time
	high := false
	for _, c := range h {
		switch {
		case c.Level && !high:
			on, high = c.Time, true
		case !c.Level && high:
			out = append(out, [2]time.Time{on, c.Time})
			high = false
		}
	}
	if high {
		out = append(out, [2]time.Time{on, end})
	}
	return out
}

// TestBridgeEndToEnd starts meshbox (serve, as run does) on the simulated
// board with the built-in demo, joins as a phone over a real WebSocket and
// checks the bridge's behaviour on the mesh, then the exit states.
func TestBridgeEndToEnd(t *testing.T) {
	const token = "e2e-token"
	board := simhost.New(simhost.Options{Seed: 7})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	env := map[string]string{"MESH_AUTH_TOKEN": token, "MESHBOX_STATE_DIR": stateDir, "XDG_STATE_HOME": stateDir}
	logs := &syncBuffer{}
	e := &Env{Getenv: func(k string) string { return env[k] }, Stdin: bytes.NewReader(nil), Stdout: logs, Stderr: logs}
	ctx, cancel := context.WithCancel(withSimBoard(context.Background(), board))
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, e, []string{"-sim"}, ln) }()
	defer func() {
		if t.Failed() {
			t.Logf("meshbox log:\n%s", logs.String())
		}
	}()

	ph := joinPhone(t, "ws://"+ln.Addr().String()+"/", token)
	demo := config.Demo()

	// Metrics arrive (the demo publishes every 2 s).
	for _, src := range []string{"climate", "light", "cpu"} {
		ph.wait("metrics from "+src, 10*time.Second, msgIs("metrics", "source", src))
	}

	// A late joiner's snapshot lists every control with a value.
	ph.send("broadcast_request", map[string]any{"msg_type": "control_sync_request", "from": "iPhone", "dynamic": []string{}})
	snap := ph.wait("control_snapshot", 5*time.Second, msgIs("control_snapshot", "to", "iPhone"))
	controls, _ := snap["controls"].(map[string]any)
	var missing []string
	for _, c := range bridge.Controls(demo) {
		if v, ok := controls[c.ID]; !ok || v == nil {
			missing = append(missing, c.ID)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 || snap["v"] == nil {
		t.Errorf("snapshot v=%v lacks %v: %v", snap["v"], missing, controls)
	}

	// A cmd switches the lamp: state echo, then command_ack; the pin is high.
	lamp := gpio.Line{Offset: 17}
	ph.send("broadcast_request", map[string]any{"msg_type": "cmd", "target": "lamp", "value": "true", "_cmd": "c-1", "_from": "iPhone"})
	if st := ph.wait("lamp state", 5*time.Second, msgIs("state", "target", "lamp")); st["value"] != true {
		t.Errorf("lamp state = %v, want true", st["value"])
	}
	ph.wait("command_ack", 5*time.Second, msgIs("command_ack", "cmd_id", "c-1", "to", "iPhone", "ok", true))
	if lvl, ok := board.OutputLevel(lamp); !ok || !lvl {
		t.Errorf("lamp pin level = %v (claimed %v), want high", lvl, ok)
	}
	// PWM from its string form.
	ph.send("broadcast_request", map[string]any{"msg_type": "cmd", "target": "dimmer", "value": "75.0"})
	if st := ph.wait("dimmer state", 5*time.Second, msgIs("state", "target", "dimmer")); st["value"] != 75.0 {
		t.Errorf("dimmer state = %v", st["value"])
	}
	// An unknown target is refused with a reason.
	ph.send("broadcast_request", map[string]any{"msg_type": "cmd", "target": "warp_drive", "value": true, "_cmd": "c-2", "_from": "iPhone"})
	if ack := ph.wait("refusal", 5*time.Second, msgIs("command_ack", "cmd_id", "c-2")); ack["ok"] != false || ack["error"] == nil {
		t.Errorf("ack = %v, want ok:false with an error", ack)
	}

	// The interlocked valves: back-to-back commands for both; they are
	// never on together, and the last one wins.
	for i := range 4 {
		target := []string{"valve_open", "valve_close"}[i%2]
		ph.send("broadcast_request", map[string]any{"msg_type": "cmd", "target": target, "value": true, "_cmd": "v" + string(rune('0'+i))})
	}
	ph.wait("last valve ack", 10*time.Second, msgIs("command_ack", "cmd_id", "v3", "ok", true))
	vo, vc := gpio.Line{Offset: 5}, gpio.Line{Offset: 6}
	if o, _ := board.OutputLevel(vo); o {
		t.Error("valve_open still on after valve_close was commanded")
	}
	if c, _ := board.OutputLevel(vc); !c {
		t.Error("valve_close not on")
	}
	now := time.Now()
	for _, a := range highIntervals(board.OutputHistory(vo), now) {
		for _, b := range highIntervals(board.OutputHistory(vc), now) {
			if a[0].Before(b[1]) && b[0].Before(a[1]) {
				t.Errorf("valves both on: open %v–%v, close %v–%v", a[0], a[1], b[0], b[1])
			}
		}
	}

	if !strings.Contains(logs.String(), "simulated hardware: -sim") {
		t.Error("the log does not say the hardware is simulated")
	}

	// SIGTERM (ctx cancelled): every output in its exit state (the demo's: off).
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	for _, o := range demo.Outputs {
		if o.Kind == config.KindPWM {
			if _, duty, _, ok := board.PWMState(gpio.PWMRef{Chip: o.PWMChip, Channel: o.PWMChannel, Pin: o.Pin.BCM}); !ok || duty != 0 {
				t.Errorf("%s duty = %v after exit, want 0", o.ID, duty)
			}
			continue
		}
		if lvl, ok := board.OutputLevel(gpio.Line{Offset: o.Pin.BCM}); !ok || lvl {
			t.Errorf("%s level = %v after exit, want low", o.ID, lvl)
		}
	}
}

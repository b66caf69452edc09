package box

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/wire"
)

const e2eeToken = "e2ee-box-token"

// wiretap is a plain WebSocket member (a guest on the Wi-Fi with the
// token but not the key) that records every frame it is sent.
type wiretap struct {
	mu     sync.Mutex
	frames []wire.Frame
	done   chan struct{}
}

func newWiretap(t *testing.T, url string) *wiretap {
	ph := phonetest.Dial(t, url, phonetest.Options{Name: "wifi-guest", Token: e2eeToken, Channel: "home", Role: "controller"})
	w := &wiretap{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			f, err := ph.Next(context.Background())
			if err != nil {
				return
			}
			w.mu.Lock()
			w.frames = append(w.frames, f)
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { ph.Close(); <-w.done })
	return w
}

func (w *wiretap) all() []wire.Frame {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]wire.Frame(nil), w.frames...)
}

func startE2EEBox(t *testing.T) (*Box, *simhost.Board, string, *logtest.Tail) {
	t.Helper()
	cfg := config.Demo()
	cfg.E2EE = true
	board := simhost.New(simhost.Options{Seed: 3})
	t.Cleanup(func() { board.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := logtest.New(t)
	bx, err := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil)), Listener: ln,
		StateDir: t.TempDir(), Sim: true, Board: board, Token: e2eeToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bx.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-bx.Ready():
	case err := <-done:
		t.Fatalf("box stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("box not ready")
	}
	return bx, board, "ws://" + ln.Addr().String() + "/", logs
}

// TestEncryptedRoomEndToEnd runs the box on the simulated board with
// e2ee: true and real WebSocket clients: a sealed cmd switches an output and
// the sealed state and ack follow; plaintext, wrongly keyed and replayed
// commands do nothing; a guest with the token but without the key sees
// nothing but envelopes (metrics, state, acks, snapshots, the pushed layout).
func TestEncryptedRoomEndToEnd(t *testing.T) {
	bx, board, url, logs := startE2EEBox(t)
	key := bx.RoomKeys().Key()
	tap := newWiretap(t, url)
	phone := phonetest.Dial(t, url, phonetest.App("alice-phone", e2eeToken))
	attacker := phonetest.Dial(t, url, phonetest.App("mallory", e2eeToken))
	room, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
	const d = 15 * time.Second
	lamp, fan := gpio.Line{Offset: 17}, gpio.Line{Offset: 27}
	level := func(l gpio.Line) bool { v, _ := board.OutputLevel(l); return v }

	phone.SealedBroadcast(room, map[string]any{"msg_type": "control_sync_request", "from": "alice-phone", "dynamic": []any{}})
	if snap := phone.ExpectSealed(room, phonetest.Msg("control_snapshot", "to", "alice-phone"), d); snap["controls"] == nil {
		t.Fatalf("snapshot %v", snap)
	}
	phone.ExpectSealed(room, phonetest.Msg("metrics"), d)

	// A sealed command acts; state and ack come back sealed.
	on, _ := room.SealJSON(map[string]any{"msg_type": "cmd", "target": "lamp", "value": true, "_cmd": "c-on", "_from": "alice-phone"})
	phone.Send("broadcast_request", on)
	if st := phone.ExpectSealed(room, phonetest.Msg("state", "target", "lamp"), d); st["value"] != true {
		t.Fatalf("state %v", st)
	}
	if ack := phone.ExpectSealed(room, phonetest.Msg("command_ack", "cmd_id", "c-on"), d); ack["ok"] != true {
		t.Fatalf("ack %v", ack)
	}
	if !level(lamp) {
		t.Fatal("the sealed command did not switch the lamp")
	}
	// marker: a later sealed command is acked only after the bridge handled
	// everything before it (one intake, in order).
	marker := func(id string, fanOn bool) {
		t.Helper()
		phone.SealedCmd(room, "fan", fanOn, id)
		if ack := phone.ExpectSealed(room, phonetest.Msg("command_ack", "cmd_id", id), d); ack["ok"] != true {
			t.Fatalf("marker %s: %v", id, ack)
		}
	}

	// Plaintext: ignored.
	attacker.Broadcast(map[string]any{"msg_type": "cmd", "target": "lamp", "value": false, "_cmd": "p-off", "_from": "mallory"})
	attacker.Broadcast(map[string]any{"msg_type": "command", "command": "all_off"})
	marker("m1", true)
	// Wrong key: ignored.
	stranger, _ := e2ee.NewRoom(mustKey(t), nil, e2ee.OpenerOptions{})
	attacker.SealedCmd(stranger, "lamp", false, "w-off")
	marker("m2", false)
	if !level(lamp) {
		t.Fatal("an unsealed or wrongly keyed command switched the lamp off")
	}

	// Replay: the phone switches the lamp off, the attacker replays the
	// captured "on" envelope: nothing happens.
	phone.SealedCmd(room, "lamp", false, "c-off")
	phone.ExpectSealed(room, phonetest.Msg("command_ack", "cmd_id", "c-off"), d)
	if level(lamp) {
		t.Fatal("lamp still on")
	}
	attacker.Send("broadcast_request", json.RawMessage(on))
	marker("m3", true)
	if level(lamp) {
		t.Fatal("a replayed envelope switched the lamp on")
	}
	if !level(fan) {
		t.Fatal("marker commands did not act")
	}
	st := bx.room.codec.Stats()
	if st.Plaintext < 2 || st.WrongKey < 1 || st.Replayed < 1 {
		t.Fatalf("codec counters %+v", st)
	}
	for _, want := range []string{"ignored an unsealed frame", "does not open with the room key", "ignored a replayed envelope"} {
		logs.WaitLines(1, d, want)
	}

	// What the guest saw: every broadcast payload is an envelope, except
	// the attacker's own plaintext; the pushed layout is sealed too.
	deadline := time.Now().Add(d)
	seen := map[string]bool{}
	var frames []wire.Frame
	for {
		frames = tap.all()
		pushed := false
		for _, f := range frames {
			pushed = pushed || f.Type == "apply-layout"
		}
		if pushed || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	opener, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
	for _, f := range frames {
		switch f.Type {
		case "broadcast":
			if !e2ee.IsEnvelope(f.Payload) {
				s := string(f.Payload)
				if !strings.Contains(s, `"mallory"`) && !strings.Contains(s, `"all_off"`) {
					t.Fatalf("plaintext left the bridge: %s", s)
				}
				continue
			}
			if pt, err := opener.Open(f.Payload); err == nil {
				var m map[string]any
				_ = json.Unmarshal(pt, &m)
				if mt, _ := m["msg_type"].(string); mt != "" {
					seen[mt] = true
				}
			}
		case "apply-layout":
			s := string(f.Payload)
			if !e2ee.IsEnvelope(f.Payload) || strings.Contains(s, e2eeToken) || strings.Contains(s, key.String()) {
				t.Fatalf("the layout was pushed in clear: %.200s", s)
			}
		}
	}
	for _, mt := range []string{"metrics", "state", "command_ack", "control_snapshot", "cmd"} {
		if !seen[mt] {
			t.Errorf("the guest saw no sealed %s (saw %v)", mt, seen)
		}
	}
}

func mustKey(t *testing.T) e2ee.Key {
	k, err := e2ee.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

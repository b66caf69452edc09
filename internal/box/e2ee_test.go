package box

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/cli"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/wire"
)

const e2eeToken = "e2ee-box-token-7f3a9c2e51"

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
	bx, board, url, logs, _ := startE2EEBoxIn(t, t.TempDir())
	return bx, board, url, logs
}

// startE2EEBoxIn starts the box with its state in dir; stop ends it (also
// done at cleanup).
func startE2EEBoxIn(t *testing.T, dir string) (*Box, *simhost.Board, string, *logtest.Tail, func()) {
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
		StateDir: dir, Sim: true, Board: board, Token: e2eeToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bx.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-bx.Ready():
	case err := <-done:
		t.Fatalf("box stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("box not ready")
	}
	return bx, board, "ws://" + ln.Addr().String() + "/", logs, stop
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
	// The attacker and the phone are different sockets, and the relay reads
	// each in its own goroutine: a phone's later frame can reach the box
	// before the attacker's earlier one. So each attack is first seen
	// counted, then a marker from the phone proves the bridge has handled
	// everything before it (one intake, in order).
	waitCodec := func(what string, ok func(e2ee.CodecStats) bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !ok(bx.room.codec.Stats()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s not counted: %+v", what, bx.room.codec.Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
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
	waitCodec("two plaintext frames", func(st e2ee.CodecStats) bool { return st.Plaintext >= 2 })
	marker("m1", true)
	// Wrong key: ignored.
	stranger, _ := e2ee.NewRoom(mustKey(t), nil, e2ee.OpenerOptions{})
	attacker.SealedCmd(stranger, "lamp", false, "w-off")
	waitCodec("a wrongly keyed envelope", func(st e2ee.CodecStats) bool { return st.WrongKey >= 1 })
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
	waitCodec("the replayed envelope", func(st e2ee.CodecStats) bool { return st.Replayed >= 1 })
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
	req, _ := http.NewRequest("GET", "http"+strings.TrimPrefix(strings.TrimSuffix(url, "/"), "ws")+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+e2eeToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`meshbox_e2ee_frames_total{result="replayed"} 1`, `meshbox_e2ee_frames_total{result="wrong_key"} 1`,
		`meshbox_e2ee_frames_total{result="sealed"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
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

// TestEncryptedRoomRoutedCLIAndRestart: a sealed routed set acts and its
// reply is sealed (a plaintext one gets no answer and does nothing);
// meshbox set --key switches an output and gets the sealed ack; after a
// restart the key is the same, the box seals under a new salt, and an
// envelope accepted before the restart is still refused.
func TestEncryptedRoomRoutedCLIAndRestart(t *testing.T) {
	dir := t.TempDir()
	bx, board, url, _, stop := startE2EEBoxIn(t, dir)
	key := bx.RoomKeys().Key()
	room, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
	const d = 15 * time.Second
	lamp, fan := gpio.Line{Offset: 17}, gpio.Line{Offset: 27}
	level := func(b *simhost.Board, l gpio.Line) bool { v, _ := b.OutputLevel(l); return v }
	ph := phonetest.Dial(t, url, phonetest.Options{Name: "router", Token: e2eeToken, Channel: "home", Role: "controller",
		Flags: map[string]any{"can_broadcast": true, "can_route": true}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	routed := func(payload any) (json.RawMessage, bool) {
		t.Helper()
		id := wire.NewID()
		if err := ph.Write(wire.Frame{ID: id, Type: "route_msg", Payload: mustJSON(t, map[string]any{
			"target_name": "meshbox", "type": "set", "payload": payload})}); err != nil {
			t.Fatal(err)
		}
		for {
			f, err := ph.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if f.ReplyTo == id {
				var e struct{ Error string }
				_ = json.Unmarshal(f.Payload, &e)
				return f.Payload, e.Error == ""
			}
		}
	}
	// plaintext routed set: no answer (the relay reports a timeout) and no switch
	if rep, ok := routed(map[string]any{"target": "fan", "value": true}); ok {
		t.Fatalf("a plaintext routed set was answered: %s", rep)
	}
	if level(board, fan) {
		t.Fatal("a plaintext routed set switched the fan")
	}
	env, _ := room.SealJSON(map[string]any{"target": "fan", "value": true})
	rep, ok := routed(json.RawMessage(env))
	if !ok || !e2ee.IsEnvelope(rep) {
		t.Fatalf("sealed routed set: reply %s", rep)
	}
	if pt, err := room.Open(rep); err != nil || !strings.Contains(string(pt), `"ok":true`) {
		t.Fatalf("sealed reply %s %v", pt, err)
	}
	if !level(board, fan) {
		t.Fatal("the sealed routed set did not switch the fan")
	}

	// The CLI with --key (the box's key file, read with the owner's rights).
	var out, errb strings.Builder
	io := cli.IO{Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errb}
	keyFile := bx.RoomKeys().Path()
	if err := cli.Set(ctx, io, []string{url, "lamp", "on", "--token", e2eeToken, "--key", keyFile}); err != nil {
		t.Fatalf("meshbox set --key: %v (%s)", err, errb.String())
	}
	if !level(board, lamp) || out.String() != "ok: lamp = on\n" {
		t.Fatalf("set --key: lamp %v, printed %q", level(board, lamp), out.String())
	}
	if err := cli.Set(ctx, io, []string{url, "lamp", "off", "--token", e2eeToken, "--timeout", "1s"}); err == nil {
		t.Fatal("meshbox set without the key got an ack in an encrypted room")
	}
	if !level(board, lamp) {
		t.Fatal("meshbox set without the key switched the lamp")
	}

	// Accepted before the restart, replayed after it.
	pump, _ := room.SealJSON(map[string]any{"msg_type": "cmd", "target": "pump", "value": true, "_cmd": "p1", "_from": "router"})
	ph.Send("broadcast_request", json.RawMessage(pump))
	ph.ExpectSealed(room, phonetest.Msg("command_ack", "cmd_id", "p1", "ok", true), d)
	firstSalt := saltOfBox(t, ph, key, d)
	ph.Close()
	stop()

	bx2, board2, url2, _, _ := startE2EEBoxIn(t, dir)
	if bx2.RoomKeys().Key() != key {
		t.Fatal("the room key changed across a restart")
	}
	ph2 := phonetest.Dial(t, url2, phonetest.App("router2", e2eeToken))
	if s := saltOfBox(t, ph2, key, d); s == firstSalt {
		t.Fatal("the box reused its session salt after a restart")
	}
	if level(board2, gpio.Line{Offset: 22}) {
		t.Fatal("pump on after the restart")
	}
	ph2.Send("broadcast_request", json.RawMessage(pump))
	room2, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
	ph2.SealedCmd(room2, "fan", true, "marker")
	ph2.ExpectSealed(room2, phonetest.Msg("command_ack", "cmd_id", "marker"), d)
	if level(board2, gpio.Line{Offset: 22}) {
		t.Fatal("an envelope accepted before the restart was replayed after it")
	}
	if st := bx2.room.codec.Stats(); st.Replayed < 1 {
		t.Fatalf("replay not counted: %+v", st)
	}
}

// saltOfBox returns the salt of the next envelope the box broadcasts.
func saltOfBox(t *testing.T, ph *phonetest.Phone, key e2ee.Key, d time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		f, err := ph.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type != "broadcast" {
			continue
		}
		var m struct {
			S string `json:"s"`
			N uint64 `json:"n"`
		}
		r, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
		pt, err := r.Open(f.Payload)
		if err != nil || !strings.Contains(string(pt), `"msg_type":"metrics"`) {
			continue
		}
		_ = json.Unmarshal(f.Payload, &m)
		return m.S
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncryptedRoomRevokeRotatesKey: revoking a phone token (an owner
// operation) rotates the room key; commands sealed with the old key stop
// acting, the new key works, and the layout and QR carry the new key.
func TestEncryptedRoomRevokeRotatesKey(t *testing.T) {
	bx, board, url, _ := startE2EEBox(t)
	old := bx.RoomKeys().Key()
	v := bx.creds.admin.Do(pairing.Request{Op: "viewer", Label: "tablet"}, "test")
	if !v.OK || v.Pairing == nil || v.Pairing.K != old.String() {
		t.Fatalf("viewer: %+v", v)
	}
	if r := bx.creds.admin.Do(pairing.Request{Op: "revoke", ID: v.Token.ID}, "test"); !r.OK || r.Warning != "" {
		t.Fatalf("revoke: %+v", r)
	}
	nk := bx.RoomKeys().Key()
	if nk == old || bx.room.codec.Key() != nk {
		t.Fatal("revoking a token did not rotate the room key")
	}
	const d = 15 * time.Second
	phone := phonetest.Dial(t, url, phonetest.App("alice-phone", e2eeToken))
	oldRoom, _ := e2ee.NewRoom(old, nil, e2ee.OpenerOptions{})
	newRoom, _ := e2ee.NewRoom(nk, nil, e2ee.OpenerOptions{})
	phone.SealedCmd(oldRoom, "lamp", true, "old")
	phone.SealedCmd(newRoom, "fan", true, "new")
	phone.ExpectSealed(newRoom, phonetest.Msg("command_ack", "cmd_id", "new", "ok", true), d)
	if on, _ := board.OutputLevel(gpio.Line{Offset: 17}); on {
		t.Fatal("a command sealed with the old key acted after the rotation")
	}
	req, _ := http.NewRequest("GET", "http"+strings.TrimPrefix(strings.TrimSuffix(url, "/"), "ws")+"/layout.json", nil)
	req.Header.Set("Authorization", "Bearer "+e2eeToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), nk.String()) || strings.Contains(string(body), old.String()) {
		t.Fatalf("layout after rotation: %.300s", body)
	}
	if q := bx.creds.admin.Do(pairing.Request{Op: "viewer", Label: "tablet 2"}, "test"); !q.OK || q.Pairing.K != nk.String() {
		t.Fatalf("QR after rotation: %+v", q.Pairing)
	}
}

package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/meshsocket"
)

// TestKeyedSendAndListen: send --key seals the broadcast payload; a
// listener with the key (given as base64 or as the key file) prints it
// opened, one without it (or with another key) sees only the envelope.
func TestKeyedSendAndListen(t *testing.T) {
	url := startRelay(t)
	key, _ := e2ee.GenerateKey(nil)
	other, _ := e2ee.GenerateKey(nil)
	keyFile := filepath.Join(t.TempDir(), e2ee.KeyFileName)
	if err := os.WriteFile(keyFile, []byte(key.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MESH_AUTH_TOKEN": token}
	type listener struct {
		out  *syncBuf
		done chan error
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func(extra ...string) listener {
		io, out, errb := testIO(env)
		l := listener{out: out, done: make(chan error, 1)}
		go func() { l.done <- Listen(ctx, io, append([]string{url, "broadcast"}, extra...)) }()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(errb.String(), "connected") {
			if time.Now().After(deadline) {
				t.Fatalf("listener never connected: %s", errb.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		return l
	}
	keyed := start("--key", key.String())
	fromFile := start("--key", keyFile)
	plain := start()
	wrong := start("--key", other.String())

	sio, _, _ := testIO(map[string]string{"MESH_AUTH_TOKEN": token, "MESH_E2EE_KEY": key.String()})
	if err := Send(ctxT(t), sio, []string{url, "broadcast_request", `{"msg_type":"cmd","target":"lamp","value":true}`}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, l := range []listener{keyed, fromFile, plain, wrong} {
		for !strings.Contains(l.out.String(), "\n") {
			if time.Now().After(deadline) {
				t.Fatal("a listener printed nothing")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	cancel()
	payload := func(l listener) json.RawMessage {
		<-l.done
		var f meshsocket.Frame
		if err := json.Unmarshal([]byte(strings.TrimSpace(l.out.String())), &f); err != nil {
			t.Fatal(err)
		}
		return f.Payload
	}
	for _, l := range []listener{keyed, fromFile} {
		if p := payload(l); string(p) != `{"msg_type":"cmd","target":"lamp","value":true}` {
			t.Fatalf("keyed listener printed %s", p)
		}
	}
	for _, l := range []listener{plain, wrong} {
		if p := payload(l); !e2ee.IsEnvelope(p) || strings.Contains(string(p), "lamp") {
			t.Fatalf("a listener without the key printed %s", p)
		}
	}
}

func TestKeyFlagErrors(t *testing.T) {
	io, _, _ := testIO(nil)
	err := Send(ctxT(t), io, []string{"ws://127.0.0.1:1", "broadcast_request", "{}", "--key", "not-a-key"})
	if err == nil || !strings.Contains(err.Error(), "neither a base64 room key") {
		t.Fatalf("bad key: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "k")
	os.WriteFile(bad, []byte("garbage"), 0o600)
	err = Send(ctxT(t), io, []string{"ws://127.0.0.1:1", "broadcast_request", "{}", "--key", bad})
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad key file: %v", err)
	}
}

func TestSealRouted(t *testing.T) {
	key, _ := e2ee.GenerateKey(nil)
	r, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
	rm := &room{r: r}
	out, err := rm.seal("route_msg", json.RawMessage(`{"target_name":"meshbox","type":"set","payload":{"target":"lamp","value":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	json.Unmarshal(out, &m)
	if string(m["target_name"]) != `"meshbox"` || !e2ee.IsEnvelope(m["payload"]) {
		t.Fatalf("routed: %s", out)
	}
	if p, _ := rm.seal("ping", json.RawMessage(`"x"`)); string(p) != `"x"` {
		t.Fatal("relay verb sealed")
	}
}

// sealedBox joins url as a box in an encrypted room: it acts only on cmd
// frames that open with key and acks them sealed.
func sealedBox(t *testing.T, url string, key e2ee.Key) {
	t.Helper()
	r, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
	c, err := meshsocket.New(meshsocket.Options{URL: url, Name: "box", Token: token, Channel: "home", Role: "hub"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.On("broadcast", func(ctx context.Context, f meshsocket.Frame) (any, error) {
		pt, err := r.Open(f.Payload)
		if err != nil {
			return nil, nil
		}
		var cmd struct {
			MsgType string `json:"msg_type"`
			Cmd     string `json:"_cmd"`
			From    string `json:"_from"`
		}
		if json.Unmarshal(pt, &cmd) != nil || cmd.MsgType != "cmd" {
			return nil, nil
		}
		ack, _ := r.SealJSON(map[string]any{"msg_type": "command_ack", "cmd_id": cmd.Cmd, "to": cmd.From, "ok": true})
		return nil, c.Send(ctx, "broadcast_request", ack)
	})
	if err := c.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestSetWithKey(t *testing.T) {
	url := startRelay(t)
	key, _ := e2ee.GenerateKey(nil)
	sealedBox(t, url, key)
	io, out, _ := testIO(map[string]string{"MESH_AUTH_TOKEN": token})
	if err := Set(ctxT(t), io, []string{url, "lamp", "on", "--key", key.String()}); err != nil {
		t.Fatalf("set --key: %v", err)
	}
	if out.String() != "ok: lamp = on\n" {
		t.Fatalf("printed %q", out.String())
	}
	io, _, _ = testIO(map[string]string{"MESH_AUTH_TOKEN": token})
	if err := Set(ctxT(t), io, []string{url, "lamp", "on", "--timeout", "500ms"}); err == nil || !strings.Contains(err.Error(), "no command_ack") {
		t.Fatalf("unsealed set in an encrypted room: %v", err)
	}
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/meshsocket"
)

// fakeBox joins url as a box that acks every cmd: ok for target "lamp",
// ok:false "unknown target: X" otherwise.
func fakeBox(t *testing.T, url string) {
	t.Helper()
	c, err := meshsocket.New(meshsocket.Options{URL: url, Name: "box", Token: token, Channel: "home", Role: "hub"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.On("broadcast", func(ctx context.Context, f meshsocket.Frame) (any, error) {
		var cmd struct {
			MsgType string `json:"msg_type"`
			Target  string `json:"target"`
			Value   any    `json:"value"`
			Cmd     string `json:"_cmd"`
			From    string `json:"_from"`
		}
		if json.Unmarshal(f.Payload, &cmd) != nil || cmd.MsgType != "cmd" || cmd.Cmd == "" {
			return nil, nil
		}
		ack := map[string]any{"msg_type": "command_ack", "cmd_id": cmd.Cmd, "to": cmd.From, "ok": cmd.Target == "lamp" && cmd.Value == true}
		if cmd.Target != "lamp" {
			ack["error"] = "unknown target: " + cmd.Target
		}
		return nil, c.Send(ctx, "broadcast_request", ack)
	})
	if err := c.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestSetWaitsForAck(t *testing.T) {
	url := startRelay(t)
	fakeBox(t, url)
	env := map[string]string{"MESH_AUTH_TOKEN": token}
	io, out, _ := testIO(env)
	if err := Set(ctxT(t), io, []string{url, "lamp", "true"}); err != nil {
		t.Fatalf("set lamp true: %v", err)
	}
	if out.String() != "ok: lamp = true\n" {
		t.Errorf("printed %q", out.String())
	}
	io, out, _ = testIO(env)
	err := Set(ctxT(t), io, []string{url, "pump", "on", "--json"})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "unknown target: pump") {
		t.Fatalf("set pump: %v", err)
	}
	if !strings.Contains(out.String(), `"ok":false`) {
		t.Errorf("--json printed %q", out.String())
	}
	// Nobody acks on another channel: a timeout that says why (long enough
	// that the connect itself fits in it on a busy machine).
	io, _, _ = testIO(env)
	err = Set(ctxT(t), io, []string{url, "lamp", "true", "--channel", "away", "--timeout", "3s"})
	if err == nil || !strings.Contains(err.Error(), "no command_ack") {
		t.Fatalf("set on a channel without a box: %v", err)
	}
	if err := Set(ctxT(t), io, []string{url, "lamp"}); err == nil {
		t.Fatal("set without VALUE succeeded")
	}
}

func TestListenFiltersPayloadMsgType(t *testing.T) {
	url := startRelay(t)
	env := map[string]string{"MESH_AUTH_TOKEN": token}
	lio, lout, lerr := testIO(env)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Listen(ctx, lio, []string{url, "metrics"}) }()
	waitConnected(t, lerr)
	sio, _, _ := testIO(env)
	for _, p := range []string{`{"msg_type":"state","target":"x","value":true}`, `{"msg_type":"metrics","cpu":7}`} {
		if err := Send(ctxT(t), sio, []string{url, "broadcast_request", p}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(lout.String(), `"cpu":7`) {
		if time.Now().After(deadline) {
			t.Fatalf("listen metrics printed %q", lout.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if strings.Contains(lout.String(), `"state"`) {
		t.Errorf("listen metrics printed a state frame: %q", lout.String())
	}
}

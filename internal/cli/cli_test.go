package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshbox/meshbox/meshsocket"
	"github.com/meshbox/meshbox/meshsocket/meshsockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuf is a goroutine-safe bytes.Buffer.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const token = "tok"

func startRelay(t *testing.T) string {
	t.Helper()
	r := meshsockettest.New()
	r.Token = token
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		r.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func testIO(env map[string]string) (IO, *syncBuf, *syncBuf) {
	out, errb := &syncBuf{}, &syncBuf{}
	return IO{Getenv: func(k string) string { return env[k] }, Stdout: out, Stderr: errb}, out, errb
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRequestFlagsAnywhere(t *testing.T) {
	url := startRelay(t)
	for _, args := range [][]string{
		{url, "ping", "--token", token, "--json"},
		{"--json", "--token=" + token, url, "ping"},
		{url, "--token", token, "ping", "null", "--json"},
		{url, "ping", "--json", "--token", token, "--", "-5"},
	} {
		io, out, _ := testIO(nil)
		if err := Request(ctxT(t), io, args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if out.String() != "\"pong\"\n" {
			t.Fatalf("%v printed %q", args, out.String())
		}
	}
}

func TestTokenFromEnvAndBadToken(t *testing.T) {
	url := startRelay(t)
	io, out, _ := testIO(map[string]string{"MESH_AUTH_TOKEN": token})
	if err := Request(ctxT(t), io, []string{url, "broadcast_request", `{"msg_type":"x"}`}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"status": "sent"`) {
		t.Fatalf("indented reply expected, got %q", out.String())
	}
	io, _, _ = testIO(map[string]string{"MESH_AUTH_TOKEN": "wrong"})
	err := Request(ctxT(t), io, []string{url, "ping"})
	if err == nil || !strings.Contains(err.Error(), "relay refused identify: 1008 unauthorized") ||
		!strings.Contains(err.Error(), "the token is wrong") {
		t.Fatalf("bad token = %v", err)
	}
	io, _, _ = testIO(map[string]string{})
	if err := Request(ctxT(t), io, []string{url, "ping"}); err == nil || !strings.Contains(err.Error(), "set MESH_AUTH_TOKEN or --token") {
		t.Fatalf("no token = %v, want a hint to set one", err)
	}
	// --token wins over the environment.
	io, _, _ = testIO(map[string]string{"MESH_AUTH_TOKEN": "wrong"})
	if err := Send(ctxT(t), io, []string{url, "x", "--token", token}); err != nil {
		t.Fatal(err)
	}
}

func TestUsageAndPayloadErrors(t *testing.T) {
	io, _, _ := testIO(nil)
	var u *UsageError
	for name, err := range map[string]error{
		"send no args":   Send(ctxT(t), io, nil),
		"request 1 arg":  Request(ctxT(t), io, []string{"ws://x"}),
		"bad json":       Request(ctxT(t), io, []string{"ws://x", "t", "{nope"}),
		"unknown flag":   Nodes(ctxT(t), io, []string{"ws://x", "--bogus"}),
		"nodes too many": Nodes(ctxT(t), io, []string{"ws://x", "y"}),
		"listen no url":  Listen(ctxT(t), io, []string{"--json"}),
	} {
		if !errors.As(err, &u) {
			t.Errorf("%s: %v; want a usage error", name, err)
		}
	}
	if err := Request(ctxT(t), io, []string{"ftp://x", "t"}); !errors.As(err, &u) || !strings.Contains(err.Error(), "scheme must be ws or wss") {
		t.Errorf("ftp url: %v", err)
	}
	// http:// is converted to ws:// (and a bare HOST:PORT gets ws://).
	for _, raw := range []string{"http://127.0.0.1:1", "127.0.0.1:1"} {
		if err := Request(ctxT(t), io, []string{raw, "t", "--timeout", "2s"}); err == nil || !strings.Contains(err.Error(), "dial ws://127.0.0.1:1") {
			t.Errorf("%s: %v", raw, err)
		}
	}
	if err := Request(ctxT(t), io, []string{"ws://127.0.0.1:1", "t", "--timeout", "2s"}); err == nil || !strings.Contains(err.Error(), "dial ws://127.0.0.1:1") {
		t.Errorf("dead relay: %v", err)
	}
}

func TestRequestFailuresAndTimeout(t *testing.T) {
	url := startRelay(t)
	io, out, _ := testIO(map[string]string{"MESH_AUTH_TOKEN": token})
	err := Request(ctxT(t), io, []string{url, "route_msg", `{"target_id":"nobody","type":"x","payload":null}`, "--json"})
	if err == nil || err.Error() != "request failed: Target not found" {
		t.Fatalf("failed route = %v", err)
	}
	if !strings.Contains(out.String(), `"Target not found"`) {
		t.Fatalf("failed reply not printed: %q", out.String())
	}
	err = Request(ctxT(t), io, []string{url, "nobody_handles_this", "--timeout", "300ms"})
	if err == nil || !strings.Contains(err.Error(), "no reply to nobody_handles_this within 300ms") {
		t.Fatalf("timeout = %v", err)
	}
}

func TestListenAndSend(t *testing.T) {
	url := startRelay(t)
	env := map[string]string{"MESH_AUTH_TOKEN": token}
	lio, lout, lerr := testIO(env)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Listen(ctx, lio, []string{url, "broadcast", "--channel", "home"}) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(lerr.String(), "connected") {
		if time.Now().After(deadline) {
			t.Fatalf("listener never connected: %s", lerr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	sio, _, _ := testIO(env)
	for i, p := range []string{`{"msg_type":"metrics","cpu":1}`, `{"msg_type":"metrics","cpu":2}`} {
		if err := Send(ctxT(t), sio, []string{"--channel", "home", url, "broadcast_request", p}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	// Another channel is not heard.
	if err := Send(ctxT(t), sio, []string{"--channel", "away", url, "broadcast_request", `{"msg_type":"away"}`}); err != nil {
		t.Fatal(err)
	}
	for strings.Count(lout.String(), "\n") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("listener printed %q", lout.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Listen = %v", err)
	}
	lines := strings.Split(strings.TrimSpace(lout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("listener printed %d lines: %q", len(lines), lout.String())
	}
	for i, l := range lines {
		var f meshsocket.Frame
		if err := json.Unmarshal([]byte(l), &f); err != nil || f.Type != "broadcast" || !strings.Contains(string(f.Payload), `"cpu":`+string(rune('1'+i))) {
			t.Fatalf("line %d = %q (%v)", i, l, err)
		}
	}
}

func TestNodesTable(t *testing.T) {
	url := startRelay(t)
	peer, err := meshsocket.New(meshsocket.Options{URL: url, Name: "sensor-1", Token: token, Channel: "home", Role: "node"})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if err := peer.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	io, out, _ := testIO(map[string]string{"MESH_AUTH_TOKEN": token})
	if err := Nodes(ctxT(t), io, []string{url, "--name", "inspector"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[1], "sensor-1") ||
		!strings.Contains(lines[1], "home") || !strings.Contains(lines[1], peer.ID()) || strings.Contains(out.String(), "inspector") {
		t.Fatalf("table:\n%s", out.String())
	}
	// The first command's member may still be leaving the relay's roster
	// (its close is processed asynchronously): ask again until it is gone.
	var nodes []meshsocket.Node
	deadline := time.Now().Add(5 * time.Second)
	for {
		io, out, _ = testIO(map[string]string{"MESH_AUTH_TOKEN": token})
		if err := Nodes(ctxT(t), io, []string{"--json", url}); err != nil {
			t.Fatal(err)
		}
		nodes = nil
		if err := json.Unmarshal([]byte(out.String()), &nodes); err != nil {
			t.Fatalf("json roster %q: %v", out.String(), err)
		}
		if len(nodes) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(nodes) != 1 || nodes[0].Name != "sensor-1" || nodes[0].Role != "node" {
		t.Fatalf("json roster %q", out.String())
	}
}

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://box:8765":          "ws://box:8765",
		"WSS://box/x":            "wss://box/x",
		"http://box:8765/":       "ws://box:8765/",
		"https://relay.example":  "wss://relay.example",
		"box:9000":               "ws://box:9000",
		"box":                    "ws://box:8765",
		"192.168.1.5":            "ws://192.168.1.5:8765",
		"192.168.1.5:8765/p?x=1": "ws://192.168.1.5:8765/p?x=1",
		"[fe80::1]:8765":         "ws://[fe80::1]:8765",
		"[fe80::1]":              "ws://[fe80::1]:8765",
		"  meshbox.local:8765  ": "ws://meshbox.local:8765",
	} {
		got, err := normalizeURL(in)
		if err != nil || got != want {
			t.Errorf("normalizeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	var u *UsageError
	for _, in := range []string{"", "ftp://box", "/path", "mqtt://x:1"} {
		if _, err := normalizeURL(in); !errors.As(err, &u) {
			t.Errorf("normalizeURL(%q) = %v; want a usage error", in, err)
		}
	}
}

// waitConnected waits for listen's "connected" line and returns it.
func waitConnected(t *testing.T, errb *syncBuf) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(errb.String(), "connected") {
		if time.Now().After(deadline) {
			t.Fatalf("listener never connected: %s", errb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errb.String()
}

// TestDefaultChannel: without --channel the commands join $MESH_CHANNEL,
// else "home" (meshbox's bridge channel), and listen says which.
func TestDefaultChannel(t *testing.T) {
	url := startRelay(t)
	for _, tc := range []struct{ envChannel, want string }{{"", "home"}, {"lab", "lab"}} {
		env := map[string]string{"MESH_AUTH_TOKEN": token, "MESH_CHANNEL": tc.envChannel}
		lio, lout, lerr := testIO(env)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		// The host:port form, converted to ws://.
		go func() { done <- Listen(ctx, lio, []string{strings.TrimPrefix(url, "ws://"), "broadcast"}) }()
		line := waitConnected(t, lerr)
		if !strings.Contains(line, "on channel "+tc.want) {
			cancel()
			<-done
			t.Fatalf("connected line %q does not name channel %s", line, tc.want)
		}
		sio, _, _ := testIO(map[string]string{"MESH_AUTH_TOKEN": token})
		// Another channel is not heard; the wanted one is.
		other := "elsewhere"
		if err := Send(ctxT(t), sio, []string{"--channel", other, url, "broadcast_request", `{"msg_type":"other"}`}); err != nil {
			t.Fatal(err)
		}
		if err := Send(ctxT(t), sio, []string{"--channel", tc.want, url, "broadcast_request", `{"msg_type":"mine"}`}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(lout.String(), "\n") && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		out := lout.String()
		if !strings.Contains(out, `"mine"`) || strings.Contains(out, `"other"`) {
			t.Fatalf("MESH_CHANNEL=%q: listener printed %q", tc.envChannel, out)
		}
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	io, out, _ := testIO(nil)
	for _, args := range [][]string{{"-h"}, {"--help"}, {"ws://x", "-h"}} {
		err := Listen(ctxT(t), io, args)
		var u *UsageError
		if !errors.As(err, &u) || !u.Help {
			t.Fatalf("listen %v = %v; want a help UsageError", args, err)
		}
		for _, want := range []string{"usage: meshbox listen URL [TYPE...]", "--channel", "MESH_CHANNEL", "home"} {
			if !strings.Contains(u.Msg, want) {
				t.Errorf("help lacks %q:\n%s", want, u.Msg)
			}
		}
	}
	if out.String() != "" {
		t.Errorf("help printed by the library: %q", out.String())
	}
}

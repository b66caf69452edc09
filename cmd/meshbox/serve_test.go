package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/statedir"
)

// syncBuf is a goroutine-safe log sink.
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

// startServe runs serve in-process on a loopback port and returns its
// address, a stop function (the SIGTERM equivalent, returning serve's
// error) and the log.
func startServe(t *testing.T, env map[string]string, args ...string) (addr string, stop func() error, logs *syncBuf) {
	t.Helper()
	return startServeOn(t, nil, env, args...)
}

// startServeOn is startServe on a given simulated board (nil: serve picks
// its hardware itself); the log is printed when the test fails.
func startServeOn(t *testing.T, board *simhost.Board, env map[string]string, args ...string) (addr string, stop func() error, logs *syncBuf) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := env["MESHBOX_STATE_DIR"]; !ok {
		env["MESHBOX_STATE_DIR"] = t.TempDir()
	}
	logs = &syncBuf{}
	e := &Env{Args: args, Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: logs}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, e, args, serveHooks{ln: ln, board: board}) }()
	var once sync.Once
	var serr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serr = <-done:
			case <-time.After(15 * time.Second):
				serr = errors.New("serve did not return")
			}
		})
		return serr
	}
	t.Cleanup(func() {
		_ = stop()
		if t.Failed() {
			t.Logf("meshbox log:\n%s", logs.String())
		}
	})
	return ln.Addr().String(), stop, logs
}

// wsURL is the relay's URL on addr (any path is a WebSocket upgrade).
func wsURL(addr string) string { return "ws://" + addr + "/any/path?x=1" }

func TestServeRelayAndShutdown(t *testing.T) {
	addr, stop, logs := startServe(t, map[string]string{"MESH_AUTH_TOKEN": "s3cret-token-value"}, "-sim", "-listen", "127.0.0.1:1")
	ws := phonetest.Dial(t, wsURL(addr), phonetest.Options{Name: "phone", Token: "s3cret-token-value"})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "meshbox") {
		t.Fatalf("GET / = %d %q", resp.StatusCode, body)
	}
	_, bad := phonetest.TryDial(t, wsURL(addr), phonetest.Options{Name: "intruder", Token: "nope"})
	var ce *websocket.CloseError
	if !errors.As(bad, &ce) || ce.Code != 1008 {
		t.Fatalf("bad token: %v", bad)
	}

	go func() { _ = stop() }()
	err = ws.WaitClosed(5 * time.Second)
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("client saw %v, want close 1001", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	out := logs.String()
	if strings.Contains(out, "s3cret-token-value") {
		t.Fatal("the token appears in the log")
	}
	if !strings.Contains(out, "env MESH_AUTH_TOKEN") || !strings.Contains(out, "listen=127.0.0.1:") {
		t.Fatalf("log lacks the token source or the address:\n%s", out)
	}
}

func TestServeGeneratesAndKeepsToken(t *testing.T) {
	dir := t.TempDir()
	addr, stop, logs := startServe(t, map[string]string{"MESHBOX_STATE_DIR": dir})
	path := filepath.Join(dir, statedir.TokenFile)
	st, err := os.Stat(path)
	for i := 0; err != nil && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		st, err = os.Stat(path)
	}
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	tok := strings.TrimSpace(string(raw))
	if len(tok) < 24 {
		t.Fatalf("weak token %q", tok)
	}
	if _, err := phonetest.TryDial(t, wsURL(addr), phonetest.Options{Name: "p", Token: tok}); err != nil {
		t.Fatalf("generated token refused: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), tok) {
		t.Fatal("token logged")
	}
	// A second start reuses it.
	addr2, _, _ := startServe(t, map[string]string{"MESHBOX_STATE_DIR": dir})
	if _, err := phonetest.TryDial(t, wsURL(addr2), phonetest.Options{Name: "p", Token: tok}); err != nil {
		t.Fatalf("stored token not reused: %v", err)
	}
}

func TestServeOpenMode(t *testing.T) {
	addr, _, logs := startServe(t, map[string]string{"MESH_AUTH_TOKEN": "ignored-when-open"}, "-open")
	if _, err := phonetest.TryDial(t, wsURL(addr), phonetest.Options{Name: "anyone"}); err != nil {
		t.Fatalf("open mode refused: %v", err)
	}
	if !strings.Contains(logs.String(), "AUTHENTICATION IS OFF") {
		t.Fatal("no warning for open mode")
	}
}

func TestServeBadFlagsAndEnv(t *testing.T) {
	e := &Env{Getenv: func(string) string { return "" }, Stdout: io.Discard, Stderr: io.Discard}
	if err := serve(context.Background(), e, []string{"-nope"}, serveHooks{}); exitCode(err) != 2 {
		t.Fatalf("bad flag: %v", err)
	}
	env := map[string]string{"MESH_RATE_LIMIT": "fast", "MESHBOX_STATE_DIR": t.TempDir(), "MESH_AUTH_TOKEN": "x"}
	e.Getenv = func(k string) string { return env[k] }
	err := serve(context.Background(), e, nil, serveHooks{})
	if err == nil || !strings.Contains(err.Error(), "MESH_RATE_LIMIT") {
		t.Fatalf("bad env: %v", err)
	}
}

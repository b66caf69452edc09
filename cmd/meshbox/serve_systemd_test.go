package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/auth"
	"github.com/meshbox/meshbox/internal/sdnotify/sdnotifytest"
	"github.com/meshbox/meshbox/internal/update"
)

// TestServeTalksToSystemd runs serve under a fake systemd: a unixgram
// NOTIFY_SOCKET with a 200 ms watchdog. It must say READY=1 once serving,
// keep the watchdog fed, and say STOPPING=1 on the way out.
func TestServeTalksToSystemd(t *testing.T) {
	sock, msgs := sdnotifytest.Listen(t)
	want := func(prefix string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed before %q", prefix)
				}
				for _, line := range strings.Split(m, "\n") {
					if strings.HasPrefix(line, prefix) {
						return
					}
				}
			case <-deadline:
				t.Fatalf("no %q from meshbox within 10s", prefix)
			}
		}
	}

	_, stop, logs := startServe(t, map[string]string{
		"MESH_AUTH_TOKEN": "tok", "NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "200000",
	}, "-sim")
	want("READY=1")
	want("WATCHDOG=1")
	want("WATCHDOG=1") // keeps feeding it
	if err := stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, logs)
	}
	want("STOPPING=1")
}

// TestServeUpdateEndpoint checks that POST /update is mounted and guarded by
// the relay token: no or a wrong token 401, the right one with a body that
// is no meshbox binary 400 (the binary is checked before anything moves).
func TestServeUpdateEndpoint(t *testing.T) {
	state := t.TempDir()
	addr, _, logs := startServe(t, map[string]string{"MESH_AUTH_TOKEN": "tok", "MESHBOX_STATE_DIR": state}, "-sim")
	post := func(token string, body []byte) int {
		t.Helper()
		var resp *http.Response
		var err error
		for i := 0; i < 100; i++ {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/update", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/octet-stream")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			if resp, err = http.DefaultClient.Do(req); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("POST /update: %v\n%s", err, logs)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	owner, err := auth.ReadOwnerToken(state)
	for deadline := time.Now().Add(10 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // written when the box opens its state
		owner, err = auth.ReadOwnerToken(state)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The owner credential only: the hub token ("tok") is a member, not an
	// updater (issue #12 finding 2).
	for _, tt := range []struct {
		token string
		want  int
	}{{"", 401}, {"nope", 401}, {"tok", 401}, {owner, 400}} {
		if got := post(tt.token, []byte("#!/bin/sh\necho not meshbox\n")); got != tt.want {
			t.Errorf("POST /update with token %q = %d, want %d", tt.token, got, tt.want)
		}
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{usageError("bad flag"), 2},
		{fmt.Errorf("serve: %w", update.ErrRestart), update.ExitCodeRestart},
		{fmt.Errorf("listen: address in use"), 1},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

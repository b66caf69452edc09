package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listen opens a real unixgram socket standing in for systemd.
func listen(t *testing.T) (string, *net.UnixConn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return path, c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	return string(buf[:n])
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDisabledWithoutSocket(t *testing.T) {
	n := FromEnv(env(nil), 1, nil)
	if n.Enabled() {
		t.Fatal("enabled without NOTIFY_SOCKET")
	}
	if err := n.Ready(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if err := n.Watchdog(context.Background(), nil); err != nil {
		t.Fatalf("Watchdog without socket: %v", err)
	}
	var nilN *Notifier
	if nilN.Enabled() || nilN.Notify(context.Background(), "READY=1") != nil || nilN.Close() != nil {
		t.Fatal("nil notifier not inert")
	}
}

func TestReadyStatusStopping(t *testing.T) {
	path, srv := listen(t)
	n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": path}), 1, nil)
	defer n.Close()
	ctx := context.Background()
	if !n.Enabled() {
		t.Fatal("not enabled")
	}
	if err := n.Ready(ctx, "serving on :8765\nsecond line"); err != nil {
		t.Fatal(err)
	}
	if got, want := recv(t, srv), "READY=1\nSTATUS=serving on :8765 second line"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if err := n.Status(ctx, "3 phones"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, srv); got != "STATUS=3 phones" {
		t.Fatalf("got %q", got)
	}
	if err := n.Stopping(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, srv); got != "STOPPING=1" {
		t.Fatalf("got %q", got)
	}
}

func TestAbstractSocket(t *testing.T) {
	name := "meshbox-sdnotify-test-" + strings.ReplaceAll(t.Name(), "/", "_") + time.Now().Format("150405.000000")
	srv, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "\x00" + name, Net: "unixgram"})
	if err != nil {
		t.Skipf("abstract sockets unavailable: %v", err)
	}
	defer srv.Close()
	n := New("@"+name, 0, nil)
	defer n.Close()
	if err := n.Notify(context.Background(), "READY=1"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, srv); got != "READY=1" {
		t.Fatalf("got %q", got)
	}
}

func TestWatchdogEnv(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want time.Duration
	}{
		{map[string]string{"WATCHDOG_USEC": "30000000"}, 15 * time.Second},
		{map[string]string{"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 15 * time.Second},
		{map[string]string{"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 0}, // another process
		{map[string]string{"WATCHDOG_USEC": "abc"}, 0},
		{map[string]string{"WATCHDOG_USEC": "0"}, 0},
		{map[string]string{}, 0},
	}
	for _, c := range cases {
		c.env["NOTIFY_SOCKET"] = "/nonexistent"
		if got := FromEnv(env(c.env), 42, nil).WatchdogInterval(); got != c.want {
			t.Errorf("%v: interval %v, want %v", c.env, got, c.want)
		}
	}
}

func TestWatchdogKeepAlivesFollowHealth(t *testing.T) {
	path, srv := listen(t)
	// 40ms watchdog: keep-alives every 20ms.
	n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "40000"}), 1, nil)
	defer n.Close()
	var sick atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- n.Watchdog(ctx, func(context.Context) error {
			if sick.Load() {
				return errors.New("relay stalled")
			}
			return nil
		})
	}()
	for i := 0; i < 3; i++ {
		if got := recv(t, srv); got != "WATCHDOG=1" {
			t.Fatalf("keep-alive %d: got %q", i, got)
		}
	}
	sick.Store(true)
	// Drain until the unhealthy status arrives; after it no WATCHDOG=1 may follow.
	for {
		got := recv(t, srv)
		if strings.HasPrefix(got, "STATUS=unhealthy: relay stalled") {
			break
		}
		if got != "WATCHDOG=1" {
			t.Fatalf("unexpected %q", got)
		}
	}
	for i := 0; i < 2; i++ {
		if got := recv(t, srv); !strings.HasPrefix(got, "STATUS=unhealthy") {
			t.Fatalf("keep-alive sent while unhealthy: %q", got)
		}
	}
	sick.Store(false)
	for {
		if got := recv(t, srv); got == "WATCHDOG=1" {
			break
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watchdog returned %v", err)
	}
}

func TestNotifyRedialsAfterManagerRestart(t *testing.T) {
	path, srv := listen(t)
	n := New(path, 0, nil)
	defer n.Close()
	ctx := context.Background()
	if err := n.Notify(ctx, "STATUS=a"); err != nil {
		t.Fatal(err)
	}
	recv(t, srv)
	srv.Close()
	if err := n.Notify(ctx, "STATUS=b"); err == nil {
		t.Fatal("send to a closed socket succeeded")
	}
	if err := os.Remove(path); err != nil { // unixgram Close leaves the file
		t.Fatal(err)
	}
	srv2, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("rebind: %v", err)
	}
	defer srv2.Close()
	if err := n.Notify(ctx, "STATUS=c"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, srv2); got != "STATUS=c" {
		t.Fatalf("got %q", got)
	}
}

func TestNotifyMissingSocket(t *testing.T) {
	n := New(filepath.Join(t.TempDir(), "none.sock"), 0, nil)
	if err := n.Ready(context.Background(), ""); err == nil {
		t.Fatal("no error for a missing socket")
	}
}

package box

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/sdnotify/sdnotifytest"
)

// TestHealthzWhenBridgeOffMesh: /healthz is 200 while the bridge is on its
// relay, and 503 (naming why) once it has been off it longer than the
// grace, as the watchdog then stops feeding systemd.
func TestHealthzWhenBridgeOffMesh(t *testing.T) {
	logs := logtest.New(t)
	cfg := loadConfig(t, valveConfig)
	bx := startBox(t, cfg, logs.Logger())
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + bx.addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 200 {
		t.Fatalf("/healthz = %d %s while joined", code, body)
	}
	// The relay goes away under the bridge (HTTP keeps serving).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bx.Relay().Close(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10*time.Second + bx.opts.HealthGrace)
	for {
		code, body := get()
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "off the mesh") {
				t.Errorf("503 body %q does not say why", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz still %d %s after the bridge left the mesh", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := bx.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestWatchdogStopsWhenBridgeOffMesh: with systemd's watchdog on
// (NOTIFY_SOCKET, WATCHDOG_USEC 200 ms) a running box feeds it while its
// bridge is on the relay, and stops feeding it (saying why in STATUS=)
// once the bridge has been off the mesh longer than the grace, so systemd
// kills and restarts a wedged box.
func TestWatchdogStopsWhenBridgeOffMesh(t *testing.T) {
	sock, msgs := sdnotifytest.Listen(t)
	env := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "200000"}
	logs := logtest.New(t)
	bx := startBoxWith(t, loadConfig(t, valveConfig), logs.Logger(), func(o *Options) {
		o.Getenv = func(k string) string { return env[k] }
		o.HealthGrace = time.Second
	})
	next := func(d time.Duration) (string, bool) {
		select {
		case m := <-msgs:
			return m, true
		case <-time.After(d):
			return "", false
		}
	}
	fed := 0
	for fed < 3 {
		m, ok := next(10 * time.Second)
		if !ok {
			t.Fatalf("the watchdog is not fed while the bridge is joined (%d keep-alives)", fed)
		}
		if strings.Contains(m, "WATCHDOG=1") {
			fed++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bx.Relay().Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Keep-alives may go on for the grace; then they stop and STATUS= says why.
	sawStatus := false
	deadline := time.Now().Add(20 * time.Second)
	for !sawStatus {
		m, ok := next(time.Until(deadline))
		if !ok {
			t.Fatal("no STATUS= naming the bridge off the mesh within 20 s")
		}
		sawStatus = strings.Contains(m, "STATUS=") && strings.Contains(m, "off the mesh")
	}
	// From now on no keep-alive: ten watchdog intervals without one.
	for quiet := time.Now().Add(2 * time.Second); time.Now().Before(quiet); {
		m, ok := next(time.Until(quiet))
		if ok && strings.Contains(m, "WATCHDOG=1") {
			t.Fatalf("the watchdog is still fed after the bridge went off the mesh: %q", m)
		}
	}
}

package box

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/logtest"
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

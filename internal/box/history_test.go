package box

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/phonetest"
)

type historyAnswer struct {
	Field  string      `json:"field"`
	Unit   string      `json:"unit"`
	Points [][]float64 `json:"points"`
}

// runBox starts the demo box on dir (simulated hardware, token tok) and
// returns its base URL and the stop function (a SIGTERM: ctx cancelled, Run
// returns after the clean shutdown).
func runHistoryBox(t *testing.T, dir, tok string) (*Box, string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Demo()
	cfg.MDNS.Disabled = true
	bx, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Listener: ln, StateDir: dir, Sim: true, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bx.Run(ctx) }()
	select {
	case <-bx.Ready():
	case err := <-done:
		t.Fatalf("box stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("box not ready")
	}
	return bx, "http://" + ln.Addr().String(), func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func getHistory(t *testing.T, base, query, tok string) (int, historyAnswer, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/history?"+query, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a historyAnswer
	_ = json.Unmarshal(b, &a)
	return resp.StatusCode, a, string(b)
}

// TestHistorySurvivesRestart runs the box, lets it record sensor readings
// and a switched output, stops it like a SIGTERM does, runs it again on the
// same state directory and reads the first run's history back.
func TestHistorySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	const tok = "history-box-token"
	bx, base, stop := runHistoryBox(t, dir, tok)
	if code, _, _ := getHistory(t, base, "field=climate_temperature", ""); code != 401 {
		t.Fatalf("without a token: %d", code)
	}
	if code, _, _ := getHistory(t, base, "field=climate_temperature", "nope"); code != 403 {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _, _ := getHistory(t, base, "field=no_such_field", tok); code != 404 {
		t.Fatalf("unknown field: %d", code)
	}
	// Readings arrive every 2 s; wait for three.
	var first historyAnswer
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, a, body := getHistory(t, base, "field=climate_temperature&since=1h", tok)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		if len(a.Points) >= 3 {
			first = a
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sensor history after 30 s: %s", body)
		}
		time.Sleep(200 * time.Millisecond) // polling an HTTP answer
	}
	if first.Unit != "°C" {
		t.Fatalf("unit %q", first.Unit)
	}
	// Switch the lamp on (as a phone would): its timeline records it.
	if _, err := bx.Bridge().Apply(context.Background(), "lamp", true, "test"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "meshbox_history_store_bytes ") || !strings.Contains(string(metrics), `meshbox_history_points{tier="raw"}`) {
		t.Fatalf("no history metrics:\n%s", metrics)
	}
	stop()

	_, base, stop = runHistoryBox(t, dir, tok)
	defer stop()
	code, again, body := getHistory(t, base, "field=climate_temperature&since=1h", tok)
	if code != 200 || len(again.Points) < len(first.Points) {
		t.Fatalf("after the restart: %d, %d points (had %d): %s", code, len(again.Points), len(first.Points), body)
	}
	for i, p := range first.Points {
		if again.Points[i][0] != p[0] || again.Points[i][1] != p[1] {
			t.Fatalf("point %d was %v before the restart, %v after", i, p, again.Points[i])
		}
	}
	// The outputs' timelines: the boot states of both runs and the exit state.
	code, lamp, body := getHistory(t, base, "field=lamp&since=1h", tok)
	var on, off bool
	for _, p := range lamp.Points {
		on = on || p[1] == 1
		off = off || p[1] == 0
	}
	if code != 200 || !on || !off {
		t.Fatalf("lamp timeline without its on and off states: %d %s", code, body)
	}

	// A phone joining now gets the trend sparkline backfilled from the
	// history in its control_snapshot (an array of the recent readings).
	ph := phonetest.Dial(t, "ws"+strings.TrimPrefix(base, "http")+"/", phonetest.App("phone-trend", tok))
	ph.Broadcast(map[string]any{"msg_type": "control_sync_request", "from": ph.Name()})
	snap := ph.ExpectBroadcast(phonetest.Msg("control_snapshot"), 15*time.Second)
	controls, _ := snap["controls"].(map[string]any)
	trend, ok := controls[layout.TrendID("climate_temperature")].([]any)
	if !ok || len(trend) < len(first.Points) || len(trend) > layout.TrendPoints {
		t.Fatalf("trend in the snapshot: %v", controls[layout.TrendID("climate_temperature")])
	}
	for i, p := range first.Points { // the first run's readings, in order
		if v, _ := trend[i].(float64); v != p[1] && len(trend) < layout.TrendPoints {
			t.Fatalf("trend[%d] = %v, want %v", i, trend[i], p[1])
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The history end-to-end tests (issue #14) run the real binary on the
// simulated board (-sim) and read the history back through GET
// /api/history with the member token.

const e2ehToken = "history-e2e-token-0123456789"

// e2ehConfig: a sensor read every second, an output and a thermostat. The
// flush interval is an hour, so within a test nothing reaches the disk but
// the burst written at a clean stop: points that survive a restart went
// through the SIGTERM path.
const e2ehConfig = `name: histe2e
channel: garden
outputs:
  - {id: heater, pin: 17, boot: off, exit: off}
sensors:
  - id: air
    driver: sht3x
    address: 0x44
    interval: 1s
    fields:
      - {name: air_temp, source: temperature}
thermostats:
  - id: heating
    sensor: air_temp
    output: heater
    mode: heat
    target: 18
    range: [5, 30]
history:
  flush_interval: 1h
mdns: {disabled: true}
`

var e2ehServingRE = regexp.MustCompile(`msg="meshbox serving".* listen=(127\.0\.0\.1:\d+)`)

// e2ehLog collects a child's output.
type e2ehLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *e2ehLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *e2ehLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// e2ehBox is one meshbox child on the simulated board.
type e2ehBox struct {
	cmd     *exec.Cmd
	logs    *e2ehLog
	base    string // http://127.0.0.1:PORT
	ws      string // ws://127.0.0.1:PORT
	exited  chan struct{}
	waitErr error
}

func e2ehEnv(state string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + state, "MESHBOX_STATE_DIR=" + state, "MESH_AUTH_TOKEN=" + e2ehToken}
}

// e2ehStart runs `meshbox -sim -config cfg` on state and waits until it
// serves /healthz.
func e2ehStart(t *testing.T, bin, cfg, state string) *e2ehBox {
	t.Helper()
	b := &e2ehBox{logs: &e2ehLog{}, exited: make(chan struct{})}
	b.cmd = exec.Command(bin, "-sim", "-listen", "127.0.0.1:0", "-config", cfg)
	b.cmd.Env = e2ehEnv(state)
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	b.cmd.WaitDelay = 5 * time.Second
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.waitErr = b.cmd.Wait(); close(b.exited) }()
	t.Cleanup(func() {
		select {
		case <-b.exited:
		default:
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for b.base == "" {
		if m := e2ehServingRE.FindStringSubmatch(b.logs.String()); m != nil {
			b.base, b.ws = "http://"+m[1], "ws://"+m[1]
			break
		}
		select {
		case <-b.exited:
			t.Fatalf("meshbox exited before serving (%v):\n%s", b.waitErr, b.logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("meshbox did not start serving within 30s:\n%s", b.logs)
		}
	}
	for {
		if code, _ := e2ehGet(t, b.base+"/healthz", ""); code == 200 {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("meshbox never healthy:\n%s", b.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sigterm stops the box the way systemd does and checks it exited 0 after
// its clean shutdown, with no failed history flush.
func (b *e2ehBox) sigterm(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("meshbox still running 30s after SIGTERM:\n%s", b.logs)
	}
	if b.waitErr != nil { // an *exec.ExitError: not 0
		t.Fatalf("meshbox exited with %v after SIGTERM:\n%s", b.waitErr, b.logs)
	}
	if out := b.logs.String(); strings.Contains(out, "history: final flush failed") || !strings.Contains(out, `msg="shutting down"`) {
		t.Fatalf("no clean shutdown:\n%s", out)
	}
}

func e2ehGet(t *testing.T, url, bearer string) (int, []byte) {
	t.Helper()
	return credsReq(t, "GET", url, bearer, "")
}

type e2ehAnswer struct {
	Field  string       `json:"field"`
	Unit   string       `json:"unit"`
	Tier   string       `json:"tier"`
	Points [][2]float64 `json:"points"`
}

// history reads GET /api/history?field=F&since=1h with the member token.
func (b *e2ehBox) history(t *testing.T, field string) e2ehAnswer {
	t.Helper()
	code, body := e2ehGet(t, b.base+"/api/history?field="+field+"&since=1h", e2ehToken)
	if code != 200 {
		t.Fatalf("GET /api/history?field=%s: %d %s", field, code, body)
	}
	var a e2ehAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("GET /api/history?field=%s: %v: %s", field, err, body)
	}
	if a.Field != field {
		t.Fatalf("asked for %s, got %s", field, a.Field)
	}
	return a
}

// waitHistory polls field's history until ok accepts it (30 s at most).
func (b *e2ehBox) waitHistory(t *testing.T, field string, what string, ok func(e2ehAnswer) bool) e2ehAnswer {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := b.history(t, field)
		if ok(a) {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s; history of %s: %+v\n%s", what, field, a, b.logs)
		}
		time.Sleep(100 * time.Millisecond) // polling an HTTP answer
	}
}

// metric reads one unlabelled sample from /metrics.
func (b *e2ehBox) metric(t *testing.T, name string) string {
	t.Helper()
	code, body := e2ehGet(t, b.base+"/metrics", e2ehToken)
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in /metrics:\n%s", name, body)
	}
	return string(m[1])
}

// hasPrefix reports where got stops matching want's points (len(want):
// every point of want is got's first points, same times and values).
func e2ehPrefix(want, got [][2]float64) int {
	for i, p := range want {
		if i >= len(got) || got[i] != p {
			return i
		}
	}
	return len(want)
}

func e2ehWriteConfig(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "meshbox.yaml")
	if err := os.WriteFile(cfg, []byte(e2ehConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestE2EHistorySurvivesSIGTERM: the real binary records a sensor, an
// output and a thermostat target, gets a real SIGTERM, and is started again
// on the same state directory, three runs in a row. Every point served
// before each SIGTERM is served again after it, same times and values, in
// order (docs/history.md: a clean stop writes what is unflushed, so it
// loses nothing), and recording goes on after them. With a 1 h flush
// interval no periodic flush ran (meshbox_history_flushes_total is 0
// before every stop): the points crossed the restart through the shutdown
// burst alone.
func TestE2EHistorySurvivesSIGTERM(t *testing.T) {
	bin := buildMeshbox(t, "history-e2e")
	cfg := e2ehWriteConfig(t)
	state := t.TempDir()
	fields := []string{"air_temp", "heater", "heating"}
	before := map[string][][2]float64{}
	for run := 1; run <= 3; run++ {
		b := e2ehStart(t, bin, cfg, state)
		if run == 1 {
			if code, body := e2ehGet(t, b.base+"/api/history?field=air_temp", ""); code != 401 {
				t.Fatalf("no token: %d %s", code, body)
			}
			if code, body := e2ehGet(t, b.base+"/api/history?field=air_temp", "not-a-member-token-0123"); code != 403 {
				t.Fatalf("wrong token: %d %s", code, body)
			}
			if code, body := e2ehGet(t, b.base+"/api/history?field=nope", e2ehToken); code != 404 {
				t.Fatalf("unknown field: %d %s", code, body)
			}
		}
		// What the previous runs recorded is all there, first, unchanged.
		for _, f := range fields {
			got := b.history(t, f)
			if n := e2ehPrefix(before[f], got.Points); n != len(before[f]) {
				t.Fatalf("run %d: %s lost points over the SIGTERM restart: %d of %d kept; point %d was %v, now %v\nbefore: %v\nafter:  %v",
					run, f, n, len(before[f]), n, before[f][n], e2ehAt(got.Points, n), before[f], got.Points)
			}
		}
		// New readings are taken after the loaded ones (one a second).
		prev := len(before["air_temp"])
		a := b.waitHistory(t, "air_temp", fmt.Sprintf("run %d: 5 new readings", run), func(a e2ehAnswer) bool { return len(a.Points) >= prev+5 })
		if a.Unit != "°C" || a.Tier != "raw" {
			t.Fatalf("air_temp: unit %q tier %q", a.Unit, a.Tier)
		}
		for i := 1; i < len(a.Points); i++ {
			if a.Points[i][0] <= a.Points[i-1][0] {
				t.Fatalf("run %d: air_temp times not increasing at %d: %v", run, i, a.Points)
			}
		}
		// Each run records the heater's boot state and the thermostat's target.
		for _, f := range []string{"heater", "heating"} {
			n := len(before[f])
			b.waitHistory(t, f, fmt.Sprintf("run %d: a point of %s", run, f), func(a e2ehAnswer) bool { return len(a.Points) > n })
		}
		if v := b.metric(t, "meshbox_history_flushes_total"); v != "0" {
			t.Fatalf("run %d: %s periodic flushes with a 1h interval; the test would not prove the shutdown burst", run, v)
		}
		for _, f := range fields {
			before[f] = b.history(t, f).Points
		}
		b.sigterm(t)
		segs, _ := filepath.Glob(filepath.Join(state, "history", "raw-*.seg"))
		if len(segs) == 0 {
			t.Fatalf("run %d: no raw segment in %s/history after the SIGTERM", run, state)
		}
	}
	if n := len(before["air_temp"]); n < 15 {
		t.Fatalf("three runs kept only %d readings", n)
	}
}

func e2ehAt(p [][2]float64, i int) any {
	if i < len(p) {
		return p[i]
	}
	return "(missing)"
}

// TestE2EHistoryThermostatTarget: the thermostat's target is a history
// series (its id, in its sensor's unit): the configured target is recorded
// at start, a target set with `meshbox set` is recorded, one refused as out
// of range is not, any member token reads it (Bearer or ?token=), and it
// survives a SIGTERM restart.
func TestE2EHistoryThermostatTarget(t *testing.T) {
	bin := buildMeshbox(t, "history-e2e")
	cfg := e2ehWriteConfig(t)
	state := t.TempDir()
	b := e2ehStart(t, bin, cfg, state)
	a := b.waitHistory(t, "heating", "the configured target", func(a e2ehAnswer) bool { return len(a.Points) > 0 })
	if a.Unit != "°C" || a.Points[0][1] != 18 {
		t.Fatalf("heating at start: %+v", a)
	}
	set := func(v string) (string, error) {
		cmd := exec.Command(bin, "set", b.ws, "heating", v, "--token", e2ehToken, "--channel", "garden")
		cmd.Env = e2ehEnv(state)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := set("21"); err != nil || !strings.Contains(out, "ok: heating = 21") {
		t.Fatalf("meshbox set heating 21: %v %s", err, out)
	}
	a = b.waitHistory(t, "heating", "the target set to 21", func(a e2ehAnswer) bool {
		return len(a.Points) > 0 && a.Points[len(a.Points)-1][1] == 21
	})
	if out, err := set("45"); err == nil {
		t.Fatalf("meshbox set heating 45 (outside 5..30) was accepted: %s", out)
	}
	// The refused target is not in the history: set a good one after it
	// and check nothing came between.
	if out, err := set("19.5"); err != nil {
		t.Fatalf("meshbox set heating 19.5: %v %s", err, out)
	}
	a = b.waitHistory(t, "heating", "the target set to 19.5", func(a e2ehAnswer) bool {
		return len(a.Points) > 0 && a.Points[len(a.Points)-1][1] == 19.5
	})
	var seen []float64
	for _, p := range a.Points {
		seen = append(seen, p[1])
		if p[1] == 45 {
			t.Fatalf("a refused target is in the history: %v", a.Points)
		}
	}
	if len(seen) < 3 || seen[0] != 18 {
		t.Fatalf("heating's history %v, want 18 .. 21 .. 19.5", seen)
	}
	// ?token= works as well as Bearer; no token is 401.
	code, body := e2ehGet(t, b.base+"/api/history?field=heating&since=1h&token="+e2ehToken, "")
	var q e2ehAnswer
	if code != 200 || json.Unmarshal(body, &q) != nil || len(q.Points) < len(a.Points) {
		t.Fatalf("?token=: %d %s", code, body)
	}
	if code, body := e2ehGet(t, b.base+"/api/history?field=heating", ""); code != 401 {
		t.Fatalf("no token: %d %s", code, body)
	}
	// CSV: a header line and one row per point.
	code, body = e2ehGet(t, b.base+"/api/history?field=heating&since=1h&format=csv", e2ehToken)
	if lines := strings.Split(strings.TrimSpace(string(body)), "\n"); code != 200 || lines[0] != "time,value" || len(lines) < len(a.Points)+1 {
		t.Fatalf("csv: %d %s", code, body)
	}
	b.sigterm(t)

	b = e2ehStart(t, bin, cfg, state)
	got := b.history(t, "heating")
	if n := e2ehPrefix(a.Points, got.Points); n != len(a.Points) {
		t.Fatalf("heating after the restart: %v, before %v", got.Points, a.Points)
	}
	b.sigterm(t)
}

package box

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/phonetest"
)

const testToken = "flood-test-token"

// valveConfig is an interlocked valve pair (dead_time 4s) on GPIO17/27, as
// a new user writes it.
const valveConfig = `
name: meshbox
outputs:
  - id: valve_open
    pin: 17
  - id: valve_close
    pin: 27
interlocks:
  - id: valve
    outputs: [valve_open, valve_close]
    dead_time: 4s
`

var (
	openLine  = gpio.Line{Offset: 17}
	closeLine = gpio.Line{Offset: 27}
)

// testBox is a box running on a loopback port with a simulated board.
type testBox struct {
	*Box
	board *simhost.Board
	addr  string
	stop  func() error
}

// loadConfig writes yaml to a file and loads it the way meshbox does.
func loadConfig(t testing.TB, yaml string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "meshbox.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startBox builds a box for cfg and runs it until stop (or cleanup); it
// returns once the box is ready.
func startBox(t testing.TB, cfg *config.Config, log *slog.Logger) *testBox {
	t.Helper()
	return startBoxWith(t, cfg, log, nil)
}

// startBoxWith is startBox with edit applied to the box's Options (may be
// nil).
func startBoxWith(t testing.TB, cfg *config.Config, log *slog.Logger, edit func(*Options)) *testBox {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	board := simhost.New(simhost.Options{Seed: 1, Logger: log})
	cfg.Listen = ln.Addr().String()
	cfg.MDNS.Disabled = true
	opts := Options{Config: cfg, Logger: log, Listener: ln, StateDir: t.TempDir(),
		Token: testToken, TokenSource: "test", Relay: cfg.Relay, Sim: true, Board: board}
	if edit != nil {
		edit(&opts)
	}
	bx, err := New(opts)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bx.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				runErr = fmt.Errorf("Run did not return")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	select {
	case <-bx.Ready():
	case err := <-done:
		t.Fatalf("box stopped before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("box not ready within 20s")
	}
	return &testBox{Box: bx, board: board, addr: ln.Addr().String(), stop: stop}
}

func (tb *testBox) url() string { return "ws://" + tb.addr + "/" }

// highIntervals returns the [on, off) intervals of an output's history.
func highIntervals(h []simhost.Change, end time.Time) [][2]time.Time {
	var out [][2]time.Time
	var on time.Time
	high := false
	for _, c := range h {
		switch {
		case c.Level && !high:
			on, high = c.Time, true
		case !c.Level && high:
			out = append(out, [2]time.Time{on, c.Time})
			high = false
		}
	}
	if high {
		out = append(out, [2]time.Time{on, end})
	}
	return out
}

// TestFloodInterlockedValves is issue #11's flood over real loopback
// WebSockets: two phones alternate valve_open / valve_close at 20 frames/s
// each for 5 s on an interlocked pair with dead_time 4s, while a third asks
// for snapshots and sends an all_off. The bridge must stay on its relay and
// answer every control_sync_request, acknowledge all_off within 1 s, never
// have both valves on (nor switch one on less than the dead time after the
// other went off), and move no pin later than dead time + 1 s after the
// last command. Everything stops without leaking a goroutine.
func TestFloodInterlockedValves(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5 s flood plus the dead time")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := loadConfig(t, valveConfig)
	dead := cfg.Interlocks[0].DeadTime
	logs := logtest.New(t)
	log := logs.Logger()
	bx := startBox(t, cfg, log)

	phoneA := phonetest.Dial(t, bx.url(), phonetest.App("phoneA", testToken))
	phoneB := phonetest.Dial(t, bx.url(), phonetest.App("phoneB", testToken))
	watcher := phonetest.Dial(t, bx.url(), phonetest.App("watcher", testToken))

	// The watcher reads everything: snapshots addressed to its requests and
	// the all_off ack, with their arrival times.
	var (
		mu        sync.Mutex
		snapshots = map[string]bool{}
		allOffAck time.Time
		ackOK     any
	)
	wctx, wcancel := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			f, err := watcher.Next(wctx)
			if err != nil {
				return
			}
			if f.Type != "broadcast" {
				continue
			}
			var m map[string]any
			if json.Unmarshal(f.Payload, &m) != nil {
				continue
			}
			mu.Lock()
			switch {
			case m["msg_type"] == "control_snapshot":
				if to, _ := m["to"].(string); to != "" {
					snapshots[to] = true
				}
			case m["msg_type"] == "command_ack" && m["cmd_id"] == "all-off-1":
				allOffAck, ackOK = time.Now(), m["ok"]
			}
			mu.Unlock()
		}
	}()

	const (
		rate     = 20 // frames per second per phone
		duration = 5 * time.Second
	)
	var lastMu sync.Mutex
	var lastCmd time.Time
	flood := func(p *phonetest.Phone, first, second string) {
		tk := time.NewTicker(time.Second / rate)
		defer tk.Stop()
		for i := range int(duration.Seconds() * rate) {
			target := first
			if i%2 == 1 {
				target = second
			}
			p.CmdAck(target, true, fmt.Sprintf("%s-%d", p.Name(), i))
			lastMu.Lock()
			lastCmd = time.Now()
			lastMu.Unlock()
			<-tk.C
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); flood(phoneA, "valve_open", "valve_close") }()
	go func() { defer wg.Done(); flood(phoneB, "valve_close", "valve_open") }()

	// The watcher: a control_sync_request every 250 ms, an all_off halfway.
	var requests []string
	var allOffSent time.Time
	tk := time.NewTicker(250 * time.Millisecond)
	for i := 0; i < int(duration/(250*time.Millisecond)); i++ {
		from := fmt.Sprintf("watcher-%d", i)
		requests = append(requests, from)
		watcher.BroadcastJSON(`{"msg_type":"control_sync_request","from":"` + from + `"}`)
		if i == 10 {
			allOffSent = time.Now()
			watcher.BroadcastJSON(`{"msg_type":"command","command":"all_off","_cmd":"all-off-1","_from":"watcher"}`)
		}
		<-tk.C
	}
	tk.Stop()
	// Answered while the phones still flood (the bug: the bridge was reaped
	// and nothing was answered for about 20 s): at least half by now, the
	// rest may still be on the way.
	mu.Lock()
	during := 0
	for _, r := range requests {
		if snapshots[r] {
			during++
		}
	}
	mu.Unlock()
	if during < len(requests)/2 {
		t.Errorf("only %d of %d control_sync_requests answered during the flood", during, len(requests))
	}
	t.Logf("%d of %d control_sync_requests answered during the flood", during, len(requests))
	wg.Wait()
	lastMu.Lock()
	last := lastCmd
	lastMu.Unlock()

	// Every snapshot request was answered, during the flood.
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		var missing []string
		for _, r := range requests {
			if !snapshots[r] {
				missing = append(missing, r)
			}
		}
		gotAck := !allOffAck.IsZero()
		mu.Unlock()
		if len(missing) == 0 && gotAck {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unanswered control_sync_requests %v; all_off acked: %v", missing, gotAck)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	ackDelay, ok := allOffAck.Sub(allOffSent), ackOK
	mu.Unlock()
	t.Logf("all_off acknowledged after %v (ok %v); last command at +%v", ackDelay, ok, last.Sub(allOffSent))
	if ok != true || ackDelay > time.Second {
		t.Errorf("all_off ack ok=%v after %v, want ok within 1s", ok, ackDelay)
	}

	// The phones leave; nothing may move after the dead time + 1 s.
	phoneA.Close()
	phoneB.Close()
	quiet := last.Add(dead + time.Second)
	time.Sleep(time.Until(quiet.Add(time.Second)))
	now := time.Now()
	hOpen, hClose := bx.board.OutputHistory(openLine), bx.board.OutputHistory(closeLine)
	for name, h := range map[string][]simhost.Change{"valve_open": hOpen, "valve_close": hClose} {
		for _, c := range h {
			if c.Time.After(quiet) {
				t.Errorf("%s moved to %v at last command +%v (> dead time + 1s)", name, c.Level, c.Time.Sub(last))
			}
		}
	}
	// Never both on; and each switch-on comes at least the dead time after
	// the other valve went off (break before make).
	opens, closes := highIntervals(hOpen, now), highIntervals(hClose, now)
	for _, a := range opens {
		for _, b := range closes {
			if a[0].Before(b[1]) && b[0].Before(a[1]) {
				t.Errorf("both valves on: open %v..%v, close %v..%v", a[0], a[1], b[0], b[1])
			}
			if gap := a[0].Sub(b[1]); gap >= 0 && gap < dead {
				t.Errorf("valve_open on %v after valve_close went off (dead time %v)", gap, dead)
			}
			if gap := b[0].Sub(a[1]); gap >= 0 && gap < dead {
				t.Errorf("valve_close on %v after valve_open went off (dead time %v)", gap, dead)
			}
		}
	}
	t.Logf("pin history: valve_open %d changes, valve_close %d changes", len(hOpen), len(hClose))
	// The bridge was never reaped and stayed on its relay.
	if st := bx.Relay().Stats(); st.Reaped != 0 {
		t.Errorf("relay reaped %d slow consumers", st.Reaped)
	}
	if err := bx.health(); err != nil {
		t.Errorf("health after the flood: %v", err)
	}
	wcancel()
	<-watched
	watcher.Close()
	if err := bx.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Shutdown order: the bridge left before the relay closed, so it never
	// redialed while stopping.
	if l := logs.Matching("component=bridge", "redialing"); len(l) != 0 {
		t.Errorf("the bridge redialed while stopping: %q", l)
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs.String())
	}
}

package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testConfig: relay1 (BCM 17, active low, restore), relay2 (BCM 27, boot on,
// exit keep), bell (momentary BCM 22, 30ms), dim (pwm BCM 18, exit on),
// heatA/heatB (BCM 5/6, interlocked), button input BCM 23 (pairing).
func testConfig(dir string) *config.Config {
	return &config.Config{
		Name: "meshbox", Channel: "home", StateDir: dir,
		Outputs: []config.Output{
			{ID: "relay1", Pin: bcm(17), ActiveLow: true, Boot: "restore", Exit: "off"},
			{ID: "relay2", Pin: bcm(27), Boot: "on", Exit: "keep"},
			{ID: "bell", Pin: bcm(22), Kind: config.KindMomentary, Pulse: 30 * time.Millisecond},
			{ID: "dim", Pin: bcm(18), Kind: config.KindPWM, Boot: "restore", Exit: "on"},
			{ID: "heatA", Pin: bcm(5)},
			{ID: "heatB", Pin: bcm(6)},
		},
		Inputs: []config.Input{
			{ID: "button", Pin: bcm(23), ActiveLow: true, Debounce: time.Millisecond, Pairing: true},
		},
		Interlocks:    []config.Interlock{{ID: "heat", Outputs: []string{"heatA", "heatB"}, DeadTime: 5 * time.Millisecond}},
		ActuationRate: 1000,
	}
}

func newTest(t *testing.T, cfg *config.Config, h *fakeHost, o Options, hostOpt ...gpio.Host) (*Bridge, *fakeMesh) {
	t.Helper()
	opts := o
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.OpenSensor == nil {
		opts.OpenSensor = func(gpio.Host, config.Sensor) (SensorReader, error) {
			return nil, errors.New("no sensor in this test")
		}
	}
	var host gpio.Host = h
	if len(hostOpt) > 0 {
		host = hostOpt[0]
	}
	b, err := New(cfg, host, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m := newFakeMesh(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		b.Shutdown()
		m.close()
	})
	return b, m
}

func cmd(t *testing.T, b *Bridge, payload string) {
	t.Helper()
	b.HandleBroadcast(context.Background(), json.RawMessage(payload))
}

func TestBootAndExitStates(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(`{"relay1":true,"dim":42.5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newFakeHost()
	b, err := New(testConfig(dir), h, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	// Boot: relay1 restored on (active low: physical low), relay2 on, others off.
	if got := h.level(17); got != false {
		t.Errorf("relay1 physical = %v, want low (restored on, active low)", got)
	}
	if !h.level(27) || h.level(22) || h.level(5) || h.level(6) {
		t.Errorf("levels relay2=%v bell=%v heatA=%v heatB=%v, want true false false false", h.level(27), h.level(22), h.level(5), h.level(6))
	}
	if d := h.pwms[18].Duty(); d != 0.425 {
		t.Errorf("dim duty = %v, want 0.425", d)
	}
	_, snap := b.Snapshot()
	if snap["relay1"] != true || snap["dim"] != 42.5 || snap["button"] != false {
		t.Errorf("snapshot = %v", snap)
	}
	b.Shutdown()
	// Exit: relay1 off (physical high), relay2 keep (on), dim on (100%).
	if !h.level(17) || !h.level(27) || h.level(22) {
		t.Errorf("exit levels relay1=%v relay2=%v bell=%v, want true true false", h.level(17), h.level(27), h.level(22))
	}
	if d := h.pwms[18].Duty(); d != 1 {
		t.Errorf("dim exit duty = %v, want 1", d)
	}
	if _, err := b.Apply(context.Background(), "relay1", true, "t"); !errors.Is(err, ErrClosed) {
		t.Errorf("Apply after Shutdown = %v, want ErrClosed", err)
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	h := newFakeHost()
	b, err := New(testConfig(dir), h, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := b.Apply(ctx, "relay1", "on", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Apply(ctx, "dim", "75.0", "t"); err != nil {
		t.Fatal(err)
	}
	b.Shutdown() // exit drives relay1 off, but the saved state is the last commanded one
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var saved map[string]any
	if err := json.Unmarshal(data, &saved); err != nil {
		t.Fatalf("state file %q: %v", data, err)
	}
	if saved["relay1"] != true || saved["dim"] != 75.0 {
		t.Fatalf("saved = %v", saved)
	}
	h2 := newFakeHost()
	b2, err := New(testConfig(dir), h2, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Shutdown()
	if h2.level(17) != false || h2.pwms[18].Duty() != 0.75 {
		t.Errorf("restored relay1 physical=%v dim=%v, want low and 0.75", h2.level(17), h2.pwms[18].Duty())
	}
}

func TestCommandsStateAndAck(t *testing.T) {
	h := newFakeHost()
	b, m := newTest(t, testConfig(t.TempDir()), h, Options{})
	tests := []struct {
		name    string
		payload string
		target  string
		want    any
		pin     int
		level   bool
	}{
		{"cmd bool", `{"msg_type":"cmd","target":"relay1","value":true,"_cmd":"c1","_from":"phone"}`, "relay1", true, 17, false},
		{"cmd string false", `{"msg_type":"cmd","target":"relay1","value":"false","_cmd":"c2","_from":"phone"}`, "relay1", false, 17, true},
		{"set on", `{"msg_type":"set","target":"heatA","value":"on","_cmd":"c3","_from":"phone"}`, "heatA", true, 5, true},
		{"set key number", `{"msg_type":"set","key":"heatA","value":0,"_cmd":"c4","_from":"phone"}`, "heatA", false, 5, false},
		{"pwm string", `{"msg_type":"cmd","target":"dim","value":"75.0","_cmd":"c5","_from":"phone"}`, "dim", 75.0, -1, false},
		{"command toggle", `{"msg_type":"command","command":"toggle","target":"relay2","_cmd":"c6","_from":"phone"}`, "relay2", false, 27, false},
		{"command on", `{"msg_type":"command","command":"on","target":"relay2","_cmd":"c7","_from":"phone"}`, "relay2", true, 27, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd(t, b, tt.payload)
			st := m.wait(t, "state "+tt.target, isMsg("state", "target", tt.target))
			if st["value"] != tt.want {
				t.Errorf("state value = %v, want %v", st["value"], tt.want)
			}
			var in map[string]any
			json.Unmarshal([]byte(tt.payload), &in)
			ack := m.wait(t, "ack", isMsg("command_ack", "cmd_id", in["_cmd"]))
			if ack["ok"] != true || ack["to"] != "phone" {
				t.Errorf("ack = %v", ack)
			}
			if tt.pin >= 0 && h.level(tt.pin) != tt.level {
				t.Errorf("pin %d = %v, want %v", tt.pin, h.level(tt.pin), tt.level)
			}
		})
	}
	if d := h.pwms[18].Duty(); d != 0.75 {
		t.Errorf("dim duty = %v", d)
	}
	fails := []struct{ payload, reason string }{
		{`{"msg_type":"cmd","target":"nope","value":true,"_cmd":"f1"}`, "unknown target"},
		{`{"msg_type":"cmd","target":"relay1","value":"maybe","_cmd":"f2"}`, "bad value"},
		{`{"msg_type":"cmd","target":"dim","value":"150","_cmd":"f3"}`, "bad value"},
		{`{"msg_type":"cmd","target":"button","value":true,"_cmd":"f4"}`, "target is read-only"},
		{`{"msg_type":"command","command":"explode","_cmd":"f5"}`, "unknown command"},
		{`{"msg_type":"cmd","value":true,"_cmd":"f6"}`, "unknown target"},
	}
	for _, f := range fails {
		cmd(t, b, f.payload)
		var in map[string]any
		json.Unmarshal([]byte(f.payload), &in)
		ack := m.wait(t, "ack "+f.payload, isMsg("command_ack", "cmd_id", in["_cmd"]))
		if ack["ok"] != false {
			t.Errorf("%s: ack ok = %v, want false", f.payload, ack["ok"])
		}
		if e, _ := ack["error"].(string); len(e) < len(f.reason) || e[:len(f.reason)] != f.reason {
			t.Errorf("%s: ack error = %q, want prefix %q", f.payload, e, f.reason)
		}
	}
	// Own echoes and junk are ignored without a reply.
	m.sync(t, b)
	n := len(m.all())
	for _, p := range []string{`{"msg_type":"state","target":"relay1","value":true}`, `{"msg_type":"metrics","source":"x","x_t":1}`, `[1,2]`, `"str"`, `{bad`, `{"msg_type":"cmd","target":{"a":1}}`} {
		cmd(t, b, p)
	}
	m.sync(t, b)
	if got := len(m.all()); got != n+1 {
		t.Errorf("echoes produced %d frames", got-n-1)
	}
	st := b.Stats()
	if st.CommandsOK < 7 || st.CommandsFailed < 6 || st.OutputSwitches["relay1"] != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestMomentaryAndPulse(t *testing.T) {
	h := newFakeHost()
	b, m := newTest(t, testConfig(t.TempDir()), h, Options{})
	cmd(t, b, `{"msg_type":"cmd","target":"bell","value":"true"}`)
	if st := m.wait(t, "bell on", isMsg("state", "target", "bell")); st["value"] != true {
		t.Fatalf("first state = %v", st)
	}
	if st := m.wait(t, "bell off", isMsg("state", "target", "bell")); st["value"] != false {
		t.Fatalf("second state = %v", st)
	}
	if h.level(22) {
		t.Error("bell still on after its pulse")
	}
	cmd(t, b, `{"msg_type":"command","command":"pulse","target":"relay2","ms":20}`) // relay2 boots on: stays on 20ms
	cmd(t, b, `{"msg_type":"command","command":"pulse","target":"heatA","ms":20}`)
	if st := m.wait(t, "heatA on", isMsg("state", "target", "heatA")); st["value"] != true {
		t.Fatalf("heatA = %v", st)
	}
	if st := m.wait(t, "heatA off", isMsg("state", "target", "heatA")); st["value"] != false {
		t.Fatalf("heatA = %v", st)
	}
}

func TestMaxOn(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Outputs[4].MaxOn = 20 * time.Millisecond
	h := newFakeHost()
	b, m := newTest(t, cfg, h, Options{})
	start := time.Now()
	if _, err := b.Apply(context.Background(), "heatA", true, "t"); err != nil {
		t.Fatal(err)
	}
	m.wait(t, "heatA on", isMsg("state", "target", "heatA", "value", true))
	m.wait(t, "heatA auto off", isMsg("state", "target", "heatA", "value", false))
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Errorf("switched off after %v, before max_on", el)
	}
	if h.level(5) {
		t.Error("heatA still on")
	}
}

func TestRateLimit(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.ActuationRate = 2
	h := newFakeHost()
	b, m := newTest(t, cfg, h, Options{})
	ctx := context.Background()
	var limited int
	for i := range 20 {
		_, err := b.Apply(ctx, "relay1", i%2 == 0, "stuck")
		if errors.Is(err, ErrRateLimited) {
			limited++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// Burst 2 then refusals (the loop takes far less than the 0.5 s
	// refill); after a refusal the next command repeats the current value,
	// which is no actuation.
	if limited < 8 {
		t.Errorf("limited %d of 20 commands, want >= 8", limited)
	}
	if w := b.Stats().OutputSwitches["relay1"]; w > 3 {
		t.Errorf("relay1 switched %d times", w)
	}
	// Repeating the current value is not an actuation and not limited.
	_, snap := b.Snapshot()
	if _, err := b.Apply(ctx, "relay1", snap["relay1"], "t"); err != nil {
		t.Errorf("no-op command: %v", err)
	}
	// A refused command still reports the actual state, and acks ok:false.
	cmd(t, b, `{"msg_type":"cmd","target":"relay1","value":"toggle-me","_cmd":"x"}`)
	m.wait(t, "ack", isMsg("command_ack", "cmd_id", "x", "ok", false))
	// PWM is not limited.
	for i := range 20 {
		if _, err := b.Apply(ctx, "dim", float64(i), "slider"); err != nil {
			t.Fatalf("pwm %d: %v", i, err)
		}
	}
}

func TestInterlockNeverBothOn(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Interlocks[0].DeadTime = time.Millisecond
	h := newFakeHost()
	var violations int
	h.onWrite = func() {
		if a, b := h.outs[5], h.outs[6]; a != nil && b != nil && a.level && b.level {
			violations++
		}
	}
	b, m := newTest(t, cfg, h, Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				target := []string{"heatA", "heatB"}[(g+i)%2]
				if g%3 == 0 {
					b.HandleBroadcast(ctx, json.RawMessage(`{"msg_type":"command","command":"toggle","target":"`+target+`"}`))
					continue
				}
				b.Apply(ctx, target, true, "g")
			}
		}()
	}
	wg.Wait()
	h.mu.Lock()
	v := violations
	h.mu.Unlock()
	if v != 0 {
		t.Fatalf("both interlocked outputs on %d times", v)
	}
	// Break before make: switching B on turns A off first, with dead time.
	drain := func() {
		m.sync(t, b)
		for len(m.ch) > 0 {
			<-m.ch
		}
	}
	b.Apply(ctx, "heatB", false, "t")
	drain()
	b.Apply(ctx, "heatA", true, "t") // may wait for the dead time after heatB
	if !h.level(5) {
		m.wait(t, "A on", isMsg("state", "target", "heatA", "value", true))
	}
	drain()
	start := time.Now()
	if _, err := b.Apply(ctx, "heatB", true, "t"); err != nil {
		t.Fatal(err)
	}
	m.wait(t, "A off", isMsg("state", "target", "heatA", "value", false))
	m.wait(t, "B on", isMsg("state", "target", "heatB", "value", true))
	if el := time.Since(start); el < cfg.Interlocks[0].DeadTime {
		t.Errorf("switch took %v, less than the dead time", el)
	}
	if h.level(5) || !h.level(6) {
		t.Errorf("A=%v B=%v, want off on", h.level(5), h.level(6))
	}
}

func TestAllOff(t *testing.T) {
	h := newFakeHost()
	b, m := newTest(t, testConfig(t.TempDir()), h, Options{})
	b.Apply(context.Background(), "dim", 50, "t")
	cmd(t, b, `{"msg_type":"command","command":"all_off","_cmd":"a"}`)
	m.wait(t, "ack", isMsg("command_ack", "cmd_id", "a", "ok", true))
	_, snap := b.Snapshot()
	for _, id := range []string{"relay1", "relay2", "bell", "heatA", "heatB"} {
		if snap[id] != false {
			t.Errorf("%s = %v after all_off", id, snap[id])
		}
	}
	if snap["dim"] != 0.0 || h.pwms[18].Duty() != 0 {
		t.Errorf("dim = %v", snap["dim"])
	}
}

func TestSnapshotAndSubscribe(t *testing.T) {
	h := newFakeHost()
	b, m := newTest(t, testConfig(t.TempDir()), h, Options{})
	sub := b.Subscribe("t", SubscribeOptions{Kinds: []EventKind{EventState}})
	v0, _ := b.Snapshot()
	cmd(t, b, `{"msg_type":"control_sync_request","from":"iPhone","dynamic":[]}`)
	s1 := m.wait(t, "snapshot", isMsg("control_snapshot"))
	if s1["to"] != "iPhone" || s1["v"] != float64(v0) {
		t.Errorf("snapshot = %v (v0 %d)", s1, v0)
	}
	controls := s1["controls"].(map[string]any)
	for _, id := range []string{"relay1", "relay2", "bell", "dim", "heatA", "heatB", "button"} {
		if _, ok := controls[id]; !ok {
			t.Errorf("snapshot lacks %s", id)
		}
	}
	b.Apply(context.Background(), "relay1", true, "t")
	cmd(t, b, `{"msg_type":"control_sync_request","from":"iPad"}`)
	s2 := m.wait(t, "snapshot", isMsg("control_snapshot", "to", "iPad"))
	if s2["v"].(float64) <= s1["v"].(float64) {
		t.Errorf("v did not grow: %v then %v", s1["v"], s2["v"])
	}
	if s2["controls"].(map[string]any)["relay1"] != true {
		t.Errorf("relay1 not in new snapshot: %v", s2)
	}
	select {
	case ev := <-sub.C():
		if ev.Kind != EventState || ev.ID != "relay1" || ev.Value != true || ev.V != uint64(s2["v"].(float64)) {
			t.Errorf("event = %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no state event")
	}
	sub.Close()
	b.Apply(context.Background(), "relay1", false, "t")
	if ev, ok := <-sub.C(); ok {
		t.Errorf("event after Close: %+v", ev)
	}
	if sub.Dropped() != 0 {
		t.Errorf("dropped = %d", sub.Dropped())
	}
}

func TestRouted(t *testing.T) {
	h := newFakeHost()
	b, m := newTest(t, testConfig(t.TempDir()), h, Options{})
	ctx := context.Background()
	tests := []struct {
		typ, payload string
		ok           bool
		state        any
	}{
		{"set_relay1", `{"value":"true","_cmd":"r1","_from":"ed"}`, true, true},
		{"set_dim", `{"target":"30"}`, true, 30.0},
		{"set_heatA", `true`, true, true},
		// heatA went on just before: heatB's switch-on waits for the dead
		// time (scheduled); the reply says how it is now.
		{"set", `{"target":"heatB","value":1}`, true, false},
		{"cmd", `{"target":"relay1","value":false}`, true, false},
		{"command", `{"command":"toggle","target":"relay1"}`, true, true},
		{"set_nope", `{"value":1}`, false, nil},
		{"set_relay1", `{"value":"banana"}`, false, nil},
	}
	for _, tt := range tests {
		rep, _ := json.Marshal(b.HandleRouted(ctx, tt.typ, json.RawMessage(tt.payload)))
		var r map[string]any
		json.Unmarshal(rep, &r)
		if r["ok"] != tt.ok || (tt.ok && r["state"] != tt.state) {
			t.Errorf("%s %s -> %s", tt.typ, tt.payload, rep)
		}
	}
	m.wait(t, "routed ack", isMsg("command_ack", "cmd_id", "r1", "to", "ed", "ok", true))
	m.wait(t, "heatB on after the dead time", isMsg("state", "target", "heatB", "value", true))
	if h.level(5) || !h.level(6) {
		t.Errorf("interlock not enforced on routed set: A=%v B=%v", h.level(5), h.level(6))
	}
	rep := b.HandleRouted(ctx, "get-control-state", json.RawMessage(`{"ids":["relay1"]}`)).(map[string]any)
	if vals := rep["values"].(map[string]any); len(vals) != 1 || vals["relay1"] != true {
		t.Errorf("get-control-state = %v", rep)
	}
	if r := b.HandleRouted(ctx, "something_else", nil); r != nil {
		t.Errorf("unknown routed type answered %v", r)
	}
}

func TestInputDebounceAndPairing(t *testing.T) {
	h := newFakeHost()
	paired := make(chan struct{}, 4)
	b, m := newTest(t, testConfig(t.TempDir()), h, Options{OnPairingButton: func() { paired <- struct{}{} }})
	_ = b
	h.mu.Lock()
	in := h.ins[23]
	h.mu.Unlock()
	// Bounce: high/low/high/low ends low (pressed: active low).
	in.set(true)
	in.set(false)
	in.set(true)
	in.set(false)
	st := m.wait(t, "button state", isMsg("state", "target", "button"))
	if st["value"] != true {
		t.Errorf("button = %v, want true (pressed)", st["value"])
	}
	select {
	case <-paired:
	case <-time.After(5 * time.Second):
		t.Fatal("pairing callback not called")
	}
	in.set(true)
	if st := m.wait(t, "release", isMsg("state", "target", "button")); st["value"] != false {
		t.Errorf("button = %v, want false", st["value"])
	}
	if n := b.Stats().InputEdges; n != 2 {
		t.Errorf("InputEdges = %d, want 2 (bounces filtered)", n)
	}
}

func TestHardwareErrorAck(t *testing.T) {
	h := newFakeHost()
	b, m := newTest(t, testConfig(t.TempDir()), h, Options{})
	h.mu.Lock()
	h.failOut[27] = true
	h.mu.Unlock()
	cmd(t, b, `{"msg_type":"cmd","target":"relay2","value":false,"_cmd":"h"}`)
	ack := m.wait(t, "ack", isMsg("command_ack", "cmd_id", "h"))
	if ack["ok"] != false || ack["error"] == nil {
		t.Errorf("ack = %v", ack)
	}
	if _, snap := b.Snapshot(); snap["relay2"] != true {
		t.Errorf("relay2 = %v after failed write, want unchanged true", snap["relay2"])
	}
}

func TestSafeExitOnPanic(t *testing.T) {
	h := newFakeHost()
	b, err := New(testConfig(t.TempDir()), h, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	b.Apply(context.Background(), "relay1", true, "t")
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("re-panicked with %v", r)
			}
		}()
		defer b.SafeExit()
		panic("boom")
	}()
	if !h.level(17) { // relay1 exit off, active low: high
		t.Error("relay1 not in its exit state after a panic")
	}
}

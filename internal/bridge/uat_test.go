package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// recHandler records every log record (all levels).
type recHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *recHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recHandler) WithGroup(string) slog.Handler      { return h }

// take returns and forgets the records at INFO or above with message msg
// (all if "").
func (h *recHandler) take(msg string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	keep := h.recs[:0]
	for _, r := range h.recs {
		if r.Level < slog.LevelInfo {
			continue
		}
		if msg != "" && r.Message != msg {
			keep = append(keep, r)
			continue
		}
		m := map[string]any{"level": r.Level, "msg": r.Message}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
		out = append(out, m)
	}
	h.recs = keep
	return out
}

// ackFor sends payload (which must carry _cmd) and returns its command_ack.
func ackFor(t *testing.T, b *Bridge, m *fakeMesh, payload string) map[string]any {
	t.Helper()
	var in map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &in); err != nil {
		t.Fatalf("test payload %s: %v", payload, err)
	}
	cmd(t, b, payload)
	var id string
	json.Unmarshal(in["_cmd"], &id)
	return m.wait(t, "ack "+payload, isMsg("command_ack", "cmd_id", id))
}

func TestPulseMsBounded(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Outputs[5].MaxOn = 40 * time.Millisecond // heatB
	h := newFakeHost()
	b, m := newTest(t, cfg, h, Options{})
	refused := []struct{ target, ms, reason string }{
		{"bell", `999999999`, "bad value: ms must be between 1 and 30"},
		{"bell", `1e15`, "bad value: ms must be between 1 and 30"},
		{"bell", `1e309`, "bad value: ms must be between 1 and 30"},
		{"bell", `31`, "bad value: ms must be between 1 and 30"},
		{"bell", `0`, "bad value: ms must be between 1 and 30"},
		{"bell", `0.5`, "bad value: ms must be between 1 and 30"},
		{"bell", `-5`, "bad value: ms must be between 1 and 30"},
		{"bell", `"abc"`, "bad value: ms must be between 1 and 30"},
		{"bell", `{}`, "bad value: ms must be between 1 and 30"},
		{"bell", `true`, "bad value: ms must be between 1 and 30"},
		{"heatA", `60001`, "bad value: ms must be between 1 and 60000"},
		{"heatB", `41`, "bad value: ms must be between 1 and 40"},
	}
	for i, r := range refused {
		ack := ackFor(t, b, m, fmt.Sprintf(`{"msg_type":"command","command":"pulse","target":%q,"ms":%s,"_cmd":"r%d","_from":"phone"}`, r.target, r.ms, i))
		if ack["ok"] != false || ack["error"] != r.reason {
			t.Errorf("pulse %s ms=%s: ack = %v, want ok:false error %q", r.target, r.ms, ack, r.reason)
		}
	}
	for _, f := range m.all() {
		if f["msg_type"] == "state" && f["value"] == true {
			t.Fatalf("a refused pulse switched an output on: %v", f)
		}
	}
	if h.level(22) || h.level(5) || h.level(6) {
		t.Fatal("an output is on after refused pulses")
	}
	// In range (also as a string, and null = configured pulse) works and ends.
	for i, p := range []struct{ target, ms string }{{"bell", `30`}, {"bell", `"12.5"`}, {"bell", `null`}, {"heatB", `40`}, {"heatA", `1`}} {
		ack := ackFor(t, b, m, fmt.Sprintf(`{"msg_type":"command","command":"pulse","target":%q,"ms":%s,"_cmd":"ok%d"}`, p.target, p.ms, i))
		if ack["ok"] != true {
			t.Errorf("pulse %s ms=%s: ack = %v", p.target, p.ms, ack)
		}
		if st := m.wait(t, p.target+" off", isMsg("state", "target", p.target, "value", false)); st == nil {
			t.Fatal("no off state")
		}
	}
}

func TestPulseLength(t *testing.T) {
	b, _ := newTest(t, testConfig(t.TempDir()), newFakeHost(), Options{})
	bell, heat := b.outputs["bell"], b.outputs["heatA"]
	long := &output{kind: outSwitch, pulse: 5 * time.Minute} // a configured long pulse still works
	for _, tt := range []struct {
		o    *output
		ms   string
		want time.Duration
	}{
		{bell, "", 30 * time.Millisecond},
		{bell, "1", time.Millisecond},
		{bell, "30", 30 * time.Millisecond},
		{heat, "", config.DefaultPulse},
		{heat, "60000", time.Minute},
		{heat, `"250"`, 250 * time.Millisecond},
		{long, "", 5 * time.Minute},
		{long, "300000", 5 * time.Minute},
	} {
		m := inMsg{}
		if tt.ms != "" {
			m["ms"] = json.RawMessage(tt.ms)
		}
		got, err := pulseLength(tt.o, m)
		if err != nil || got != tt.want {
			t.Errorf("pulseLength(%s, %s) = %v, %v, want %v", tt.o.cfg.ID, tt.ms, got, err, tt.want)
		}
	}
	if _, err := pulseLength(long, inMsg{"ms": json.RawMessage("300001")}); err == nil || err.Error() != "bad value: ms must be between 1 and 300000" {
		t.Errorf("long pulse over its cap: %v", err)
	}
}

// Repeated pulses while an output is on must not keep it on past its
// pulse (momentary) or max_on (switch).
func TestRepeatedPulsesCannotHoldOn(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Outputs[2].Pulse = 100 * time.Millisecond // bell
	cfg.Outputs[5].MaxOn = 100 * time.Millisecond // heatB
	h := newFakeHost()
	b, m := newTest(t, cfg, h, Options{})
	for _, tt := range []struct{ target, payload string }{
		{"bell", `{"msg_type":"command","command":"pulse","target":"bell"}`},
		{"bell", `{"msg_type":"command","command":"pulse","target":"bell","ms":100}`},
		{"heatB", `{"msg_type":"command","command":"pulse","target":"heatB","ms":100}`},
		{"heatB", `{"msg_type":"command","command":"on","target":"heatB"}`},
	} {
		t.Run(tt.payload, func(t *testing.T) {
			cmd(t, b, tt.payload)
			m.wait(t, tt.target+" on", isMsg("state", "target", tt.target, "value", true))
			// Keep pulsing every 10ms (the bug re-armed the off timer each
			// time); the output must still go off, long before 3s.
			deadline := time.Now().Add(3 * time.Second)
			for {
				if _, snap := b.Snapshot(); snap[tt.target] == false {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s held on for 3s by repeated pulses", tt.target)
				}
				cmd(t, b, `{"msg_type":"command","command":"pulse","target":"`+tt.target+`","ms":100}`)
				time.Sleep(10 * time.Millisecond)
			}
			// Let the last pulse (if it switched it on again) end.
			deadline = time.Now().Add(3 * time.Second)
			for b.outputs[tt.target].isOnLocked() {
				if time.Now().After(deadline) {
					t.Fatalf("%s still on", tt.target)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func (o *output) isOnLocked() bool {
	o.dom.lock()
	defer o.dom.unlock()
	return o.isOn()
}

func TestHoldFor(t *testing.T) {
	t0 := time.Unix(1000, 0)
	o := &output{kind: outMomentary, pulse: 500 * time.Millisecond, onSince: t0}
	if d, capped := o.holdFor(t0.Add(400*time.Millisecond), true, 500*time.Millisecond); d != 100*time.Millisecond || !capped {
		t.Errorf("momentary re-pulse = %v %v, want 100ms capped", d, capped)
	}
	if d, _ := o.holdFor(t0.Add(time.Second), true, 500*time.Millisecond); d != 0 {
		t.Errorf("past the limit = %v, want 0", d)
	}
	if d, capped := o.holdFor(t0, false, 200*time.Millisecond); d != 200*time.Millisecond || capped {
		t.Errorf("fresh pulse = %v %v", d, capped)
	}
	s := &output{kind: outSwitch, pulse: time.Hour}
	if d, capped := s.holdFor(t0, false, time.Hour); d != time.Hour || capped {
		t.Errorf("switch without max_on = %v %v", d, capped)
	}
	s.cfg.MaxOn = time.Minute
	if d, capped := s.holdFor(t0, false, time.Hour); d != time.Minute || !capped {
		t.Errorf("configured pulse longer than max_on = %v %v, want 1m", d, capped)
	}
}

// cmd/set/routed/on/toggle with true on a momentary output pulse it for
// its configured length; none leaves it on.
func TestMomentaryEveryPathPulses(t *testing.T) {
	h := newFakeHost()
	b, m := newTest(t, testConfig(t.TempDir()), h, Options{})
	paths := []func(){
		func() { cmd(t, b, `{"msg_type":"cmd","target":"bell","value":true}`) },
		func() { cmd(t, b, `{"msg_type":"set","key":"bell","value":"on"}`) },
		func() { cmd(t, b, `{"msg_type":"command","command":"on","target":"bell"}`) },
		func() { cmd(t, b, `{"msg_type":"command","command":"toggle","target":"bell"}`) },
		func() { b.HandleRouted(context.Background(), "set_bell", json.RawMessage(`{"value":1}`)) },
		func() { b.HandleRouted(context.Background(), "set", json.RawMessage(`{"target":"bell","value":"1"}`)) },
		func() { b.Apply(context.Background(), "bell", true, "page") },
	}
	for i, p := range paths {
		p()
		on := m.wait(t, fmt.Sprint("bell on #", i), isMsg("state", "target", "bell"))
		if on["value"] != true {
			t.Fatalf("path %d: first state %v", i, on)
		}
		off := m.wait(t, fmt.Sprint("bell off #", i), isMsg("state", "target", "bell"))
		if off["value"] != false || h.level(22) {
			t.Fatalf("path %d: bell stayed on (%v, pin %v)", i, off, h.level(22))
		}
	}
}

func TestUserFacingReasons(t *testing.T) {
	b, m := newTest(t, testConfig(t.TempDir()), newFakeHost(), Options{})
	for i, tt := range []struct{ target, value, reason string }{
		{"relay1", `1e309`, "bad value: 1e309 is not a finite number"},
		{"relay1", `{"a":1}`, "bad value: an object is not a switch value (use true/false)"},
		{"relay1", `[1]`, "bad value: a list is not a switch value (use true/false)"},
		{"relay1", `null`, "bad value: value is missing"},
		{"relay1", ``, "bad value: value is missing"},
		{"relay1", `2`, "bad value: 2 is not on/off"},
		{"relay1", `-1`, "bad value: -1 is not on/off"},
		{"relay1", `"yes"`, `bad value: "yes" is not on/off`},
		{"relay1", `"75.0"`, `bad value: "75.0" is not on/off`},
		{"dim", `{}`, "bad value: an object is not a level (use a number 0..100)"},
		{"dim", `-1e400`, "bad value: -1e400 is not a finite number"},
		{"dim", `"1e309"`, `bad value: "1e309" is not a finite number`},
		{"dim", `150`, "bad value: 150 is outside 0..100"},
	} {
		v := ""
		if tt.value != "" {
			v = `,"value":` + tt.value
		}
		ack := ackFor(t, b, m, fmt.Sprintf(`{"msg_type":"cmd","target":%q%s,"_cmd":"u%d"}`, tt.target, v, i))
		if ack["ok"] != false || ack["error"] != tt.reason {
			t.Errorf("%s=%s: ack = %v, want error %q", tt.target, tt.value, ack, tt.reason)
		}
	}
	for i, v := range []string{`true`, `false`, `1`, `0`, `"TRUE"`, `"Off"`, `"on"`, `"1"`, `"0"`} {
		if ack := ackFor(t, b, m, fmt.Sprintf(`{"msg_type":"cmd","target":"relay1","value":%s,"_cmd":"a%d"}`, v, i)); ack["ok"] != true {
			t.Errorf("value %s refused: %v", v, ack)
		}
	}
	// Routed replies use the same text.
	rep := b.HandleRouted(context.Background(), "set_relay1", json.RawMessage(`{"value":{"x":1}}`)).(map[string]any)
	if rep["error"] != "bad value: an object is not a switch value (use true/false)" {
		t.Errorf("routed reply = %v", rep)
	}
}

func TestRefusalLogging(t *testing.T) {
	rec := &recHandler{}
	h := newFakeHost()
	b, m := newTest(t, testConfig(t.TempDir()), h, Options{Logger: slog.New(rec)})
	now := time.Unix(1000, 0)
	b.logLimit.now = func() time.Time { return now } // only this goroutine sends commands

	refusals := []struct{ payload, target, reason string }{
		{`{"msg_type":"cmd","target":"relay1","value":2,"_cmd":"1","_from":"phone"}`, "relay1", "bad value: 2 is not on/off"},
		{`{"msg_type":"cmd","target":"nope","value":true,"_cmd":"2","_from":"phone"}`, "nope", `unknown target: "nope"`},
		{`{"msg_type":"cmd","target":"button","value":true,"_cmd":"3","_from":"phone"}`, "button", `target is read-only: "button"`},
		{`{"msg_type":"command","command":"explode","_cmd":"4","_from":"phone"}`, "", `unknown command: "explode"`},
		{`{"msg_type":"command","command":"pulse","target":"bell","ms":1e9,"_cmd":"5","_from":"phone"}`, "bell", "bad value: ms must be between 1 and 30"},
	}
	for _, r := range refusals {
		ackFor(t, b, m, r.payload)
		lines := rec.take("")
		if len(lines) != 1 {
			t.Fatalf("%s: %d log lines %v, want 1", r.payload, len(lines), lines)
		}
		l := lines[0]
		if l["level"] != slog.LevelInfo || l["msg"] != "command refused" || l["target"] != r.target || l["from"] != "phone" || l["reason"] != r.reason {
			t.Errorf("%s: logged %v", r.payload, l)
		}
	}
	// The page's path (Apply) logs the same line.
	b.Apply(context.Background(), "relay1", "maybe", "page")
	if l := rec.take("command refused"); len(l) != 1 || l[0]["from"] != "page" || l[0]["level"] != slog.LevelInfo {
		t.Errorf("Apply refusal logged %v", l)
	}
	// A hardware error stays a WARN.
	h.mu.Lock()
	h.failOut[27] = true
	h.mu.Unlock()
	ackFor(t, b, m, `{"msg_type":"cmd","target":"relay2","value":false,"_cmd":"hw","_from":"tablet"}`)
	if l := rec.take("command failed"); len(l) != 1 || l[0]["level"] != slog.LevelWarn || l[0]["target"] != "relay2" {
		t.Errorf("hardware error logged %v", l)
	}
	h.mu.Lock()
	h.failOut[27] = false
	h.mu.Unlock()

	// A flood from one phone: a few lines, then a count of the suppressed.
	now = now.Add(time.Minute)
	for i := range 50 {
		cmd(t, b, fmt.Sprintf(`{"msg_type":"cmd","target":"relay1","value":"x%d","_from":"flood"}`, i))
	}
	if l := rec.take("command refused"); len(l) != logBurstClient {
		t.Errorf("flood of 50 logged %d lines, want %d", len(l), logBurstClient)
	}
	// Another client is not silenced by it.
	cmd(t, b, `{"msg_type":"cmd","target":"relay1","value":"x","_from":"other"}`)
	if l := rec.take("command refused"); len(l) != 1 || l[0]["from"] != "other" {
		t.Errorf("other client logged %v", l)
	}
	now = now.Add(10 * time.Second)
	cmd(t, b, `{"msg_type":"cmd","target":"relay1","value":"x","_from":"flood"}`)
	if l := rec.take("command refused"); len(l) != 1 || l[0]["suppressed"] != int64(50-logBurstClient) {
		t.Errorf("after the flood logged %v, want suppressed=%d", l, 50-logBurstClient)
	}
	// Varying the name does not get around the overall budget.
	now = now.Add(time.Minute)
	for i := range 3 * logMaxClients {
		cmd(t, b, fmt.Sprintf(`{"msg_type":"cmd","target":"nope","value":true,"_from":"p%d"}`, i))
	}
	if l := rec.take("command refused"); len(l) != logBurstAll {
		t.Errorf("flood from %d names logged %d lines, want %d", 3*logMaxClients, len(l), logBurstAll)
	}
	if n := len(b.logLimit.clients); n > logMaxClients {
		t.Errorf("limiter remembers %d clients, want <= %d", n, logMaxClients)
	}
	for _, l := range rec.take("") {
		if l["level"].(slog.Level) >= slog.LevelWarn {
			t.Errorf("client-caused refusal logged at %v: %v", l["level"], l)
		}
	}
	if s := b.Stats(); s.CommandsFailed < 50 {
		t.Errorf("CommandsFailed = %d", s.CommandsFailed)
	}
}

// FuzzValue: any JSON value gets a result or a user-facing reason (never a
// Go type name or a decoder message).
func FuzzValue(f *testing.F) {
	for _, s := range []string{`true`, `2`, `1e309`, `{"a":1}`, `[1]`, `null`, `"on"`, `"75.0"`, `-0`, `1 2`, `"\u00ff"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		check := func(err error) {
			if err == nil {
				return
			}
			e := err.Error()
			for _, bad := range []string{"json:", "Go value", "interface", "%!", "[]uint8", "float64"} {
				if strings.Contains(e, bad) {
					t.Fatalf("reason %q for %q leaks %q", e, raw, bad)
				}
			}
			if !strings.HasPrefix(e, "bad value: ") {
				t.Fatalf("reason %q lacks the bad value prefix", e)
			}
		}
		_, err := toBool(json.RawMessage(raw))
		check(err)
		p, err := toPercent(json.RawMessage(raw))
		check(err)
		if err == nil && (p < 0 || p > 100) {
			t.Fatalf("%q: level %v", raw, p)
		}
		_, err = pulseLength(&output{kind: outMomentary, pulse: 500 * time.Millisecond}, inMsg{"ms": raw})
		check(err)
	})
}

package bridge

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/config"
)

func TestParseKV(t *testing.T) {
	tests := []struct {
		line string
		want map[string]any
	}{
		{"t=21.5 h=40", map[string]any{"t": 21.5, "h": 40.0}},
		{"t=21.5,h=40;p=1013\r\n", map[string]any{"t": 21.5, "h": 40.0, "p": 1013.0}},
		{"temp:22 state=ok door=true", map[string]any{"temp": 22.0, "state": "ok", "door": true}},
		{`msg="hello world" n=-3e2`, map[string]any{"msg": "hello world", "n": -300.0}},
		{"boot banner v1.2 x=1", map[string]any{"x": 1.0}},
		{"a.b=1 bad key=2 msg_type=metrics source=x", map[string]any{"a_b": 1.0, "key": 2.0}},
		{"x=NaN y=Inf z=", map[string]any{"x": "NaN", "y": "Inf", "z": ""}},
		{`q="unterminated`, map[string]any{"q": "unterminated"}},
	}
	for _, tt := range tests {
		got, err := ParseKV(tt.line)
		if err != nil {
			t.Errorf("ParseKV(%q) error %v", tt.line, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseKV(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
	for _, bad := range []string{"", "   ", "hello world", "=5", "==", strings.Repeat("a", maxLineLen+1)} {
		if got, err := ParseKV(bad); err == nil {
			t.Errorf("ParseKV(%q) = %v, want error", bad, got)
		}
	}
}

func TestParseJSONLine(t *testing.T) {
	tests := []struct {
		line string
		want map[string]any
	}{
		{`{"t":21.5,"ok":true,"name":"a"}`, map[string]any{"t": 21.5, "ok": true, "name": "a"}},
		{` {"env":{"t":1,"deep":{"x":2}},"arr":[1,2],"n":null}` + "\r", map[string]any{"env_t": 1.0, "env_deep_x": 2.0}},
		{`{"msg_type":"x","source":"y","v":1}`, map[string]any{"v": 1.0}},
		{`{"a.b":3}`, map[string]any{"a_b": 3.0}},
	}
	for _, tt := range tests {
		got, err := ParseJSONLine([]byte(tt.line))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseJSONLine(%q) = %v, %v, want %v", tt.line, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "[1]", "42", `{"a":`, `{}`, `{"a":[1]}`, `{"bad key":1}`} {
		if got, err := ParseJSONLine([]byte(bad)); err == nil {
			t.Errorf("ParseJSONLine(%q) = %v, want error", bad, got)
		}
	}
}

func TestSerialMetrics(t *testing.T) {
	dev := config.SerialDevice{ID: "uno", Fields: []config.Field{{Name: "soil", Source: "m", Scale: 0.1, Offset: 1}}}
	got, err := SerialMetrics(dev, "m=500 t=20 s=dry")
	want := map[string]any{"soil": 51.0, "uno_t": 20.0, "uno_s": "dry"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("kv: %v, %v, want %v", got, err, want)
	}
	dev.Framing = config.FramingJSON
	got, err = SerialMetrics(dev, `{"m":100}`)
	if err != nil || got["soil"] != 11.0 {
		t.Errorf("json: %v, %v", got, err)
	}
	dev.Framing = config.FramingText
	got, err = SerialMetrics(dev, "  READY\r")
	if err != nil || !reflect.DeepEqual(got, map[string]any{"uno": "READY"}) {
		t.Errorf("text: %v, %v", got, err)
	}
	if _, err := SerialMetrics(dev, " \r"); err == nil {
		t.Error("empty text line accepted")
	}
}

func TestValues(t *testing.T) {
	bools := []struct {
		in   any
		want bool
	}{{true, true}, {"true", true}, {"ON", true}, {"1", true}, {1, true}, {0.0, false}, {"off", false}, {"0", false}, {"false", false}, {" Off ", false}, {1.0, true}, {json.RawMessage(`"On"`), true}, {[]byte(nil), false}}
	for _, tt := range bools[:len(bools)-1] {
		got, err := toBool(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("toBool(%#v) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
	// Only true/false, 1/0 and their strings switch: "75.0" (a level) and 2
	// are refused since the UAT (a typo must not switch a relay on).
	for _, bad := range []any{"maybe", nil, []int{1}, "NaN", "75.0", 2, 2.0, -1, 0.5, "yes", "", "high", math.Inf(1), math.NaN(), json.RawMessage("2"), json.RawMessage("1e309")} {
		if _, err := toBool(bad); err == nil {
			t.Errorf("toBool(%#v) accepted", bad)
		}
	}
	pcts := []struct {
		in   any
		want float64
	}{{"75.0", 75}, {75, 75}, {"50%", 50}, {true, 100}, {"off", 0}, {0, 0}, {100.0, 100}}
	for _, tt := range pcts {
		got, err := toPercent(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("toPercent(%#v) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []any{"abc", -1, 100.5, "NaN", nil} {
		if _, err := toPercent(bad); err == nil {
			t.Errorf("toPercent(%#v) accepted", bad)
		}
	}
}

func FuzzParseKV(f *testing.F) {
	for _, s := range []string{"t=21.5 h=40", `a="b c" d:1`, "x==", "\xff=1", "a=1,b=2;c=3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m, err := ParseKV(line)
		if err != nil {
			return
		}
		if len(m) == 0 || len(m) > maxFields {
			t.Fatalf("ParseKV(%q) returned %d fields", line, len(m))
		}
		for k, v := range m {
			if !validKey(k) {
				t.Fatalf("invalid key %q", k)
			}
			switch v.(type) {
			case float64, bool, string:
			default:
				t.Fatalf("value %T", v)
			}
		}
	})
}

func FuzzParseJSONLine(f *testing.F) {
	for _, s := range []string{`{"t":1}`, `{"a":{"b":{"c":{"d":{"e":1}}}}}`, `{"x":[1]}`, `[]`, `{"a":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := ParseJSONLine(line)
		if err != nil {
			return
		}
		for k := range m {
			if !validKey(k) {
				t.Fatalf("invalid key %q", k)
			}
		}
	})
}

func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		`{"msg_type":"cmd","target":"relay1","value":"true","_cmd":"a"}`,
		`{"msg_type":"set","key":"dim","value":75.5}`,
		`{"msg_type":"command","command":"pulse","target":"bell","ms":1}`,
		`{"msg_type":"control_sync_request","from":"x"}`,
		`{"msg_type":"command","command":"all_off"}`,
	} {
		f.Add(s)
	}
	h := newFakeHost()
	cfg := testConfig(f.TempDir())
	b, err := New(cfg, h, Options{})
	if err != nil {
		f.Fatal(err)
	}
	m := newFakeMesh(b)
	f.Cleanup(func() { b.Shutdown(); m.close() })
	f.Fuzz(func(t *testing.T, payload string) {
		b.HandleBroadcast(t.Context(), []byte(payload))
		for _, typ := range []string{"set", "command", "set_dim", "get-control-state"} {
			b.HandleRouted(t.Context(), typ, []byte(payload))
		}
		if a, c := h.level(5), h.level(6); a && c {
			t.Fatal("interlock broken")
		}
	})
}

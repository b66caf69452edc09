package layout

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/config"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMatchFilterTypedEquality(t *testing.T) {
	frame := decode(t, `{"msg_type":"state","target":"lamp","value":true,"n":1,"o":{"a":[1,2]}}`)
	cases := []struct {
		filter string
		want   bool
	}{
		{`{"msg_type":"state","target":"lamp"}`, true},
		{`{"n":1.0}`, true},
		{`{"n":true}`, false},       // a bool never equals a number
		{`{"value":1}`, false},      // nor the other way round
		{`{"value":"true"}`, false}, // nor a string
		{`{"o":{"a":[1,2]}}`, true}, // nested values compare whole
		{`{"o":{"a":[1]}}`, false},
		{`{"missing":null}`, false},
		{`{"target":"fan"}`, false},
	}
	for _, c := range cases {
		f := decode(t, c.filter).(map[string]any)
		if got := MatchFilter(f, frame); got != c.want {
			t.Errorf("MatchFilter(%s) = %v, want %v", c.filter, got, c.want)
		}
	}
	if !MatchFilter(nil, "anything") {
		t.Error("nil filter must match every frame")
	}
	if MatchFilter(map[string]any{"a": 1.0}, []any{1.0}) {
		t.Error("a filter matched a non-object frame")
	}
}

func TestWalkPath(t *testing.T) {
	frame := decode(t, `{"a":{"b":[10,{"c":"x"}],"0":"zero"},"s":5}`)
	cases := []struct {
		path string
		want any
		ok   bool
	}{
		{"a.b.1.c", "x", true},
		{"a..b.0", 10.0, true}, // empty segments dropped
		{"a.0", "zero", true},  // objects look "0" up as a key
		{"a.b.2", nil, false},  // out of range
		{"a.b.-1", nil, false},
		{"a.b.x", nil, false},
		{"s.t", nil, false}, // scalar mid-walk
		{"nope", nil, false},
	}
	for _, c := range cases {
		got, ok := WalkPath(frame, c.path)
		if ok != c.ok || (ok && !JSONEqual(got, c.want)) {
			t.Errorf("WalkPath(%q) = %v, %v; want %v, %v", c.path, got, ok, c.want, c.ok)
		}
	}
	if whole, ok := WalkPath(frame, ""); !ok || !JSONEqual(whole, frame) {
		t.Error("empty path must return the whole frame")
	}
}

func demoLayoutJSON(t *testing.T) map[string]any {
	t.Helper()
	l, err := Generate(config.Demo(), Options{URL: "ws://10.0.0.2:8765", Token: "k"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(l)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func child(m map[string]any, tab, i int) map[string]any {
	return m["tabs"].([]any)[tab].(map[string]any)["children"].([]any)[i].(map[string]any)
}

// demoFrames are frames shaped like the bridge's for the demo (the golden
// test checks the real bridge; these keep the mutation cases self-contained).
func demoFrames(t *testing.T) []any {
	var out []any
	for _, id := range []string{"lamp", "fan", "pump", "valve_open", "valve_close", "door", "button"} {
		out = append(out, decode(t, `{"msg_type":"state","target":"`+id+`","value":false}`))
	}
	out = append(out, decode(t, `{"msg_type":"state","target":"dimmer","value":40}`),
		decode(t, `{"msg_type":"metrics","source":"climate","climate_temperature":21.5,"climate_pressure":1000,"climate_humidity":40}`),
		decode(t, `{"msg_type":"metrics","source":"light","light_lux":300}`),
		decode(t, `{"msg_type":"metrics","source":"cpu","cpu_temperature":45}`))
	return out
}

func TestValidateCatchesSchemaErrors(t *testing.T) {
	frames := demoFrames(t)
	base, _ := json.Marshal(demoLayoutJSON(t))
	if err := Validate(base, frames); err != nil {
		t.Fatalf("demo layout invalid: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(m map[string]any)
		want   string
	}{
		{"no name", func(m map[string]any) { delete(m, "name") }, "name: required"},
		{"no version", func(m map[string]any) { delete(m, "version") }, "version: required"},
		{"no tabs", func(m map[string]any) { m["tabs"] = []any{} }, "tabs: required"},
		{"tab without icon", func(m map[string]any) { delete(m["tabs"].([]any)[0].(map[string]any), "icon") }, "tabs[0].icon"},
		{"duplicate id", func(m map[string]any) { child(m, 0, 1)["id"] = "lamp" }, `duplicate id "lamp"`},
		{"overlap", func(m map[string]any) { child(m, 0, 1)["position"] = []any{0.0, 1.0} }, "overlaps"},
		{"outside grid", func(m map[string]any) { child(m, 0, 1)["position"] = []any{0.0, 3.0} }, "outside the 4-column grid"},
		{"below last row", func(m map[string]any) { child(m, 0, 6)["position"] = []any{9.0, 0.0} }, "outside the 4-row grid"},
		{"no position", func(m map[string]any) { delete(child(m, 0, 0), "position") }, "position: required"},
		{"unknown type", func(m map[string]any) { child(m, 0, 0)["type"] = "switch" }, `unknown control type "switch"`},
		{"dead action", func(m map[string]any) {
			child(m, 0, 0)["action"].(map[string]any)["event"] = "set_power"
		}, `"set_power" is not a relay verb`},
		{"broadcast without msg_type", func(m map[string]any) {
			delete(child(m, 0, 0)["action"].(map[string]any)["payload"].(map[string]any), "msg_type")
		}, "msg_type: required"},
		{"filter matches nothing", func(m map[string]any) {
			child(m, 0, 0)["sync"].([]any)[0].(map[string]any)["filter"].(map[string]any)["target"] = "lamp2"
		}, "matches no frame"},
		{"wrong valuePath", func(m map[string]any) {
			child(m, 0, 0)["sync"].([]any)[0].(map[string]any)["valuePath"] = "val"
		}, "matches no frame"},
		{"toggle fed a number", func(m map[string]any) {
			child(m, 0, 0)["sync"].([]any)[0].(map[string]any)["filter"].(map[string]any)["target"] = "dimmer"
		}, "carry no bool"},
		{"gauge range", func(m map[string]any) { child(m, 1, 0)["min"] = 60.0 }, "needs numeric min < max"},
		{"snake identity", func(m map[string]any) {
			m["connection"].(map[string]any)["identity"].(map[string]any)["can_broadcast"] = true
		}, "camelCase"},
		{"bad url", func(m map[string]any) { m["connection"].(map[string]any)["url"] = "http://x" }, "connection.url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := demoLayoutJSON(t)
			c.mutate(m)
			b, _ := json.Marshal(m)
			err := Validate(b, frames)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v; want an error containing %q", err, c.want)
			}
		})
	}
}

func TestValidateGroupsAndFlow(t *testing.T) {
	doc := `{"name":"x","version":1,"tabs":[{"title":"T","icon":"i","grid":{"columns":2,"mode":"flow"},"children":[
	  {"id":"g","position":[0,0],"span":[1,2],"grid":{"columns":2},"children":[
	    {"type":"label","id":"a","position":[0,0]},{"type":"label","id":"b","position":[0,0]}]},
	  {"type":"label","id":"c","position":[1,0],"span":[3,1]},{"type":"label","id":"d","position":[2,0]}]}]}`
	err := Validate([]byte(doc), nil)
	if err == nil || !strings.Contains(err.Error(), `"b" overlaps "a"`) {
		t.Fatalf("overlap inside an untyped group not found: %v", err)
	}
	if strings.Contains(err.Error(), `"d" overlaps`) {
		t.Fatalf("flow mode ignores rowSpan: %v", err)
	}
}

func TestGenerateOverrides(t *testing.T) {
	cfg := config.Demo()
	cfg.Layout = config.Layout{
		Title:  "Workshop",
		Accent: "#ff9500",
		Tabs:   []config.LayoutTab{{Title: "Main", Icon: "star", Controls: []string{"dimmer", "climate_temperature", "lamp"}}},
		Items: map[string]config.LayoutItem{
			"lamp":             {Label: "Bench lamp", Icon: "lamp.desk", Tint: "#ffcc00"},
			"fan":              {Order: 2},
			"pump":             {Order: 1},
			"climate_pressure": {Type: "sparkline"},
			"light_lux":        {Type: "label"},
		},
	}
	l, err := Generate(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "Workshop" || l.AccentColor != "#ff9500" || l.Connection != nil {
		t.Fatalf("top: %+v", l)
	}
	if l.Tabs[0].Title != "Main" || l.Tabs[0].Icon != "star" {
		t.Fatalf("first tab: %+v", l.Tabs[0])
	}
	var ids []string
	for _, c := range l.Tabs[0].Children {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, ",") != "dimmer,climate_temperature,lamp" {
		t.Fatalf("Main tab order %v", ids)
	}
	lamp := l.Tabs[0].Children[2]
	if lamp.Label != "Bench lamp" || lamp.Icon != "lamp.desk" || lamp.Tint != "#ffcc00" {
		t.Fatalf("lamp overrides: %+v", lamp)
	}
	ids = nil
	for _, c := range l.Tabs[1].Children {
		ids = append(ids, c.ID)
	}
	// Unlisted controls stay in their default tab, ordered by order (stable).
	if l.Tabs[1].Title != "Controls" || strings.Join(ids, ",") != "valve_open,valve_close,door,pump,fan" {
		t.Fatalf("Controls tab %q order %v", l.Tabs[1].Title, ids)
	}
	types := map[string]string{}
	for _, tab := range l.Tabs {
		for _, c := range tab.Children {
			types[c.ID] = c.Type
		}
	}
	if types["climate_pressure"] != "sparkline" || types["light_lux"] != "label" || types["climate_humidity"] != "gauge" {
		t.Fatalf("type overrides: %v", types)
	}
	if err := ValidateLayout(l, nil); err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		mod  func(*config.Layout)
		want string
	}{
		{func(c *config.Layout) { c.Items = map[string]config.LayoutItem{"nope": {Label: "x"}} }, `"nope" is not a control`},
		{func(c *config.Layout) { c.Items = map[string]config.LayoutItem{"lamp": {Type: "gauge"}} }, `type "gauge" not possible`},
		{func(c *config.Layout) { c.Tabs = []config.LayoutTab{{Title: "A", Controls: []string{"lamp", "lamp"}}} }, "already in a tab"},
		{func(c *config.Layout) { c.Tabs = []config.LayoutTab{{Title: "A", Controls: []string{"ghost"}}} }, `"ghost" is not a control`},
		{func(c *config.Layout) { c.Tabs = []config.LayoutTab{{Controls: []string{"lamp"}}} }, "title is empty"},
	}
	for _, b := range bad {
		cfg := config.Demo()
		b.mod(&cfg.Layout)
		if _, err := Generate(cfg, Options{}); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Generate = %v; want %q", err, b.want)
		}
	}
}

func TestGenerateTokenAndEmpty(t *testing.T) {
	cfg := config.Demo()
	l, err := Generate(cfg, Options{URL: "ws://10.0.0.2:8765"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(l)
	if !strings.Contains(string(b), `"token":null`) {
		t.Fatalf("open relay: token should be null: %s", b)
	}
	l, _ = Generate(cfg, Options{URL: "ws://10.0.0.2:8765", Token: "secret"})
	nt := l.WithoutToken()
	if nt.Connection.Token != nil || l.Connection.Token == nil || *l.Connection.Token != "secret" {
		t.Fatal("WithoutToken must copy, not modify")
	}
	if l.Fingerprint() == nt.Fingerprint() {
		t.Fatal("fingerprint ignores content")
	}
	empty := &config.Config{Name: "bare"}
	l, err = Generate(empty, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateLayout(l, nil); err != nil {
		t.Fatalf("empty config layout: %v", err)
	}
}

// TestPackingNeverOverlaps packs many mixes of control sizes and checks them
// with the validator's grid rules.
func TestPackingNeverOverlaps(t *testing.T) {
	spans := [][2]int{{1, 2}, {1, 4}, {2, 2}, {2, 4}, {1, 1}, {3, 3}, {1, 5}}
	for seed := 1; seed < 300; seed++ {
		n := seed%17 + 1
		cs := make([]Control, n)
		x := seed
		for i := range cs {
			x = (x*1103515245 + 12345) & 0x7fffffff
			cs[i] = Control{Type: "label", ID: "c" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Span: spans[x%len(spans)]}
		}
		tab := makeTab("T", "i", cs)
		l := &Layout{Name: "x", Version: 1, Tabs: []Tab{tab}}
		if err := ValidateLayout(l, nil); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for i := 1; i < len(tab.Children); i++ {
			a, b := tab.Children[i-1].Position, tab.Children[i].Position
			if b[0] < a[0] || (b[0] == a[0] && b[1] < a[1]) {
				t.Fatalf("seed %d: control %d placed before control %d", seed, i, i-1)
			}
		}
	}
}

func FuzzValidate(f *testing.F) {
	if b, err := os.ReadFile("testdata/serial.golden.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"name":"x","version":1,"connection":{"url":"ws://h:1","identity":{"canRoute":false}},"tabs":[{"title":"t","icon":"i","grid":{"columns":4,"rows":2},"children":[` +
		`{"type":"toggle","id":"lamp","position":[0,0],"span":[1,2],"action":{"event":"broadcast_request","payload":{"msg_type":"cmd"}},` +
		`"sync":[{"event":"broadcast","filter":{"msg_type":"state","target":"lamp"},"valuePath":"value"}]}]}]}`))
	f.Add([]byte(`{"name":"x","version":1,"tabs":[{"title":"t","icon":"i","children":[{"type":"group","id":"g","position":[0,0],"children":[{}]}]}]}`))
	f.Add([]byte(`{"tabs":[{"children":[{"position":[1e300,-1],"span":[0.5,2]}]}]}`))
	frames := []any{map[string]any{"msg_type": "state", "target": "lamp", "value": true}}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = Validate(b, frames)
	})
}

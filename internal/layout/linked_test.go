package layout

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/config"
)

// TestLinkedTabsOfEveryExample: the tabs a linked box announces (its
// generated layout, PrefixTabs "garage.") pass LinkedTabs, and checked
// against the frames the real bridge sends on an upstream link with that
// prefix (bridge.Frame(ev, "garage.")) every control still syncs; merged
// into the demo hub's layout they make a valid layout with one tab titled
// with the box's name.
func TestLinkedTabsOfEveryExample(t *testing.T) {
	const prefix = "garage."
	hub, err := Generate(config.Demo(), goldenOptions)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			l, err := Generate(cfg, goldenOptions)
			if err != nil {
				t.Fatal(err)
			}
			tabs := PrefixTabs(l.Tabs, prefix)
			pl := &Layout{Name: "garage", Version: 1, Tabs: tabs}
			frames := bridgeFramesAs(t, cfg, l, prefix, pl)
			if err := ValidateLayout(pl, frames); err != nil {
				t.Fatalf("prefixed tabs do not match the prefixed frames:\n%v", err)
			}
			n := 0
			for _, tab := range tabs {
				for _, c := range tab.Children {
					n++
					if !strings.HasPrefix(c.ID, prefix) || c.Type == "logConsole" {
						t.Errorf("control %q (%s) in the announced tabs", c.ID, c.Type)
					}
				}
			}
			raw, err := json.Marshal(tabs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := LinkedTabs(raw, prefix)
			if err != nil {
				t.Fatalf("LinkedTabs refused a real box's tabs: %v", err)
			}
			m := Merge(hub, []Linked{{Name: "garage", Available: true, Tabs: got}})
			if err := ValidateLayout(m, nil); err != nil {
				t.Fatalf("merged layout: %v", err)
			}
			last := m.Tabs[len(m.Tabs)-1]
			if len(m.Tabs) != len(hub.Tabs)+1 || last.Title != "garage" || len(last.Children) != n {
				t.Errorf("merged tabs: %d (hub %d), last %q with %d controls, want one tab \"garage\" with %d",
					len(m.Tabs), len(hub.Tabs), last.Title, len(last.Children), n)
			}
		})
	}
}

func TestLinkedTabsRefused(t *testing.T) {
	ok := `[{"title":"Controls","icon":"switch.2","grid":{"columns":4,"rows":1,"mode":"grid","rowHeight":56},
	  "children":[{"type":"toggle","id":"g.lamp","position":[0,0],"span":[1,2],
	    "action":{"method":"meshsocket","mode":"broadcast","event":"broadcast_request","payload":{"msg_type":"cmd","target":"g.lamp","value":"{{value}}"}},
	    "sync":[{"method":"meshsocket","type":"listen","event":"broadcast","filter":{"msg_type":"state","target":"g.lamp"},"valuePath":"value"}]}]}]`
	if _, err := LinkedTabs(json.RawMessage(ok), "g."); err != nil {
		t.Fatalf("a good tab refused: %v", err)
	}
	for name, bad := range map[string]string{
		"not json":       `[{`,
		"not an array":   `{"title":"x"}`,
		"no tabs":        `[]`,
		"foreign id":     strings.Replace(ok, `"id":"g.lamp"`, `"id":"lamp"`, 1),
		"bare prefix":    strings.Replace(ok, `"id":"g.lamp"`, `"id":"g."`, 1),
		"foreign target": strings.Replace(ok, `"target":"g.lamp","value"`, `"target":"lamp","value"`, 1),
		"outside grid":   strings.Replace(ok, `"position":[0,0]`, `"position":[3,0]`, 1),
		"too many tabs":  "[" + strings.TrimSuffix(strings.TrimPrefix(strings.Repeat(ok[1:len(ok)-1]+",", maxLinkedTabs+1), ""), ",") + "]",
	} {
		if _, err := LinkedTabs(json.RawMessage(bad), "g."); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMerge(t *testing.T) {
	tab := func(title string, rows int, ids ...string) Tab {
		t := Tab{Title: title, Icon: "x", Grid: Grid{Columns: Columns, Rows: rows, Mode: "grid", RowHeight: RowHeight}}
		for i, id := range ids {
			t.Children = append(t.Children, Control{Type: "label", ID: id, Position: [2]int{i, 0}, Span: [2]int{1, 4}})
		}
		return t
	}
	base := &Layout{Name: "hub", Version: 1, Tabs: []Tab{tab("garage", 1, "lamp")}}
	if Merge(base, nil) != base {
		t.Error("Merge with no linked boxes is not base itself")
	}
	m := Merge(base, []Linked{
		{Name: "garage", Available: false, Tabs: []Tab{tab("Controls", 2, "g.a", "g.b"), tab("Sensors", 1, "g.c", "lamp")}},
		{Name: "shed", Available: true, Tabs: []Tab{{Title: "Wide", Icon: "x", Grid: Grid{Columns: 6, Rows: 1, Mode: "grid"},
			Children: []Control{{Type: "label", ID: "s.a", Span: [2]int{1, 6}}}}}},
	})
	if err := ValidateLayout(m, nil); err != nil {
		t.Fatalf("merged layout: %v", err)
	}
	var titles []string
	for _, tb := range m.Tabs {
		titles = append(titles, tb.Title)
	}
	if got := strings.Join(titles, "|"); got != "garage|garage box (offline)|shed · Wide" {
		t.Errorf("tabs = %s", got)
	}
	g := m.Tabs[1]
	if g.Grid.Rows != 3 || len(g.Children) != 3 || g.Children[2].ID != "g.c" || g.Children[2].Position != [2]int{2, 0} {
		t.Errorf("stacked tab: rows %d, children %+v (the hub's own lamp must not be shown twice)", g.Grid.Rows, g.Children)
	}
	if len(base.Tabs) != 1 {
		t.Error("Merge changed base")
	}
}

// FuzzLinkedTabs: whatever a linked box announces, LinkedTabs never
// panics, and tabs it accepts merge into the demo's layout as a valid
// layout whose added controls are all under the prefix.
func FuzzLinkedTabs(f *testing.F) {
	l, err := Generate(config.Demo(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := json.Marshal(PrefixTabs(l.Tabs, "g."))
	f.Add([]byte(raw))
	f.Add([]byte(`[{"title":"x","icon":"y","grid":{"columns":4,"rows":1,"mode":"grid"},"children":[{"type":"label","id":"g.a","position":[0,0],"span":[1,1]}]}]`))
	f.Add([]byte(`[{"title":"x","children":[{"id":"lamp"}]}]`))
	f.Add([]byte(`[]`))
	hub, _ := Generate(config.Demo(), Options{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tabs, err := LinkedTabs(b, "g.")
		if err != nil {
			return
		}
		m := Merge(hub, []Linked{{Name: "g", Available: true, Tabs: tabs}})
		for _, tab := range m.Tabs[len(hub.Tabs):] {
			for _, c := range tab.Children {
				if !strings.HasPrefix(c.ID, "g.") {
					t.Fatalf("a linked control outside the prefix: %q", c.ID)
				}
			}
		}
		if err := ValidateLayout(m, nil); err != nil {
			// Merge may only fail where the box's layout falls back (title
			// collisions in unstacked tabs); it must never panic.
			t.Logf("merged layout invalid (the box falls back to its own): %v", err)
		}
	})
}

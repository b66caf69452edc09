package layout

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
)

// Linked boxes (issue #19): a box linked into a hub's relay announces its
// layout tabs with every id prefixed (PrefixTabs); the hub, the layout's
// authority, validates them (LinkedTabs) and shows each linked box as one
// tab of its own layout, titled with the box's name (Merge).

// Bounds on what a linked box may put on the hub's layout.
const (
	maxLinkedTabs     = 16
	maxLinkedControls = 256
)

// OfflineSuffix ends the tab title of a linked box that is unavailable.
const OfflineSuffix = " (offline)"

// Linked is one linked box for Merge.
type Linked struct {
	Name      string
	Available bool
	Tabs      []Tab // from LinkedTabs
}

// PrefixTabs returns a copy of tabs as a linked box announces them: every
// control id, the target of every action, the target or source a sync
// filter matches and a metrics field's valuePath carry prefix, as the
// frames on the upstream link do. The notifications console is left out:
// the hub's own shows every box's notifications.
func PrefixTabs(tabs []Tab, prefix string) []Tab {
	out := make([]Tab, 0, len(tabs))
	for _, t := range tabs {
		nt := t
		nt.Children = make([]Control, 0, len(t.Children))
		for _, c := range t.Children {
			if c.Type == "logConsole" {
				continue
			}
			nt.Children = append(nt.Children, prefixControl(c, prefix))
		}
		if len(nt.Children) > 0 {
			out = append(out, nt)
		}
	}
	return out
}

func prefixControl(c Control, prefix string) Control {
	c.ID = prefix + c.ID
	if c.Action != nil {
		a := *c.Action
		a.Payload = prefixed(a.Payload, prefix, "target")
		c.Action = &a
	}
	if c.Sync != nil {
		ss := make([]Sync, len(c.Sync))
		for i, s := range c.Sync {
			if s.Filter["msg_type"] == "metrics" && s.ValuePath != "" {
				s.ValuePath = prefix + s.ValuePath
			}
			s.Filter = prefixed(s.Filter, prefix, "target", "source")
			ss[i] = s
		}
		c.Sync = ss
	}
	return c
}

// prefixed copies m with the string values of keys prefixed.
func prefixed(m map[string]any, prefix string, keys ...string) map[string]any {
	if m == nil {
		return nil
	}
	out := maps.Clone(m)
	for _, k := range keys {
		if s, ok := out[k].(string); ok && s != "" {
			out[k] = prefix + s
		}
	}
	return out
}

// LinkedTabs decodes and checks the tabs a linked box announced: at most
// maxLinkedTabs tabs and maxLinkedControls controls, every control id and
// action target under prefix (a linked box shows and drives only its own
// controls), and the schema rules of a layout made of them.
func LinkedTabs(raw json.RawMessage, prefix string) ([]Tab, error) {
	var tabs []Tab
	if err := json.Unmarshal(raw, &tabs); err != nil {
		return nil, fmt.Errorf("tabs: %w", err)
	}
	if len(tabs) == 0 || len(tabs) > maxLinkedTabs {
		return nil, fmt.Errorf("tabs: %d tabs (1 to %d)", len(tabs), maxLinkedTabs)
	}
	n := 0
	for i, t := range tabs {
		for j, c := range t.Children {
			n++
			if !strings.HasPrefix(c.ID, prefix) || len(c.ID) == len(prefix) {
				return nil, fmt.Errorf("tabs[%d].children[%d]: id %q is not under %q", i, j, c.ID, prefix)
			}
			if c.Action != nil {
				if tg, ok := c.Action.Payload["target"].(string); ok && !strings.HasPrefix(tg, prefix) {
					return nil, fmt.Errorf("tabs[%d].children[%d]: action target %q is not under %q", i, j, tg, prefix)
				}
			}
		}
	}
	if n > maxLinkedControls {
		return nil, fmt.Errorf("tabs: %d controls (at most %d)", n, maxLinkedControls)
	}
	if err := ValidateLayout(&Layout{Name: "linked", Version: 1, Tabs: tabs}, nil); err != nil {
		return nil, err
	}
	return tabs, nil
}

// Merge returns base with one tab per linked box after its own tabs,
// titled with the box's name (and OfflineSuffix while it is unavailable):
// the box's tabs stacked on one grid when they share base's column count,
// else a tab each ("garage · Sensors"). Ids already in base or in an
// earlier box are left out (no control is shown twice). base is not
// changed.
func Merge(base *Layout, linked []Linked) *Layout {
	if len(linked) == 0 {
		return base
	}
	out := *base
	out.Tabs = append([]Tab(nil), base.Tabs...)
	seen := map[string]bool{}
	for _, t := range base.Tabs {
		for _, c := range t.Children {
			seen[c.ID] = true
		}
	}
	titles := map[string]bool{}
	for _, t := range base.Tabs {
		titles[t.Title] = true
	}
	for _, lb := range linked {
		title := lb.Name
		for titles[title] || titles[title+OfflineSuffix] {
			title += " box" // the title is the tab's id: never twice
		}
		titles[title] = true
		if !lb.Available {
			title += OfflineSuffix
		}
		stack := true
		for _, t := range lb.Tabs {
			stack = stack && t.Grid.Columns == Columns && t.Grid.Mode == "grid" && t.Grid.Rows > 0
		}
		merged := Tab{Title: title, Icon: "shippingbox", Grid: Grid{Columns: Columns, Mode: "grid", RowHeight: RowHeight}, Children: []Control{}}
		for _, t := range lb.Tabs {
			var cs []Control
			for _, c := range t.Children {
				if !seen[c.ID] {
					seen[c.ID] = true
					cs = append(cs, c)
				}
			}
			if len(cs) == 0 {
				continue
			}
			if !stack {
				nt := t
				nt.Title, nt.Children = title+" · "+t.Title, cs
				out.Tabs = append(out.Tabs, nt)
				continue
			}
			off := merged.Grid.Rows
			for _, c := range cs {
				c.Position[0] += off
				merged.Children = append(merged.Children, c)
			}
			merged.Grid.Rows += t.Grid.Rows
		}
		if stack && len(merged.Children) > 0 {
			out.Tabs = append(out.Tabs, merged)
		}
	}
	return &out
}

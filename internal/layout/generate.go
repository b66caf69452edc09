package layout

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/relay"
)

// Grid defaults for generated tabs.
const (
	Columns   = 4
	RowHeight = 56
)

// Options are the per-box parts of a generated layout.
type Options struct {
	// URL is the ws:// URL phones dial (the pairing URL). Empty leaves out the
	// connection block.
	URL string
	// Token is put in the connection block (nil token when empty = open relay).
	Token string
	// E2EEKey is the base64 room key of an encrypted room, put in the
	// connection block with mode "room" ("" = not encrypted).
	E2EEKey string
	// Role a phone identifies with (default "controller").
	Role string
	// Items replaces Items(cfg) (for example the bridge's own description of
	// its controls).
	Items []Item
}

// Default tabs, in order.
var defaultTabs = []struct{ title, icon string }{
	{"Controls", "switch.2"},
	{"Sensors", "gauge.medium"},
	{"Inputs", "sensor"},
	{"Automations", "gearshape.2"},
}

func defaultTab(kind string) int {
	switch kind {
	case KindSwitch, KindMomentary, KindPWM:
		return 0
	case KindInput:
		return 2
	case KindThermostat, KindAutomation, KindStatus, KindLastRun, KindLog:
		return 3
	}
	return 1
}

// Generate builds the layout for cfg.
func Generate(cfg *config.Config, opts Options) (*Layout, error) {
	items := opts.Items
	if items == nil {
		items = Items(cfg)
	}
	name := cfg.Name
	if name == "" {
		name = "meshbox"
	}
	title := cfg.Layout.Title
	if title == "" {
		title = name
	}
	l := &Layout{Name: title, Version: 1, HeaderTitle: title, AccentColor: cfg.Layout.Accent,
		State: &State{Sync: true, Authority: name, Acks: true, AckTimeoutMs: 2000}}
	if opts.URL != "" {
		role := opts.Role
		if role == "" {
			role = "controller"
		}
		channel := cfg.Channel
		if channel == "" {
			channel = config.DefaultChannel
		}
		c := &Connection{URL: opts.URL, Hub: name, Identity: Identity{Channel: channel, Role: role,
			CanBroadcast: granted(cfg.Relay.BroadcastRoles, relay.DefaultConfig().BroadcastRoles, role),
			CanRoute:     granted(cfg.Relay.RouteRoles, relay.DefaultConfig().RouteRoles, role)}}
		if opts.Token != "" {
			tok := opts.Token
			c.Token = &tok
		}
		if opts.E2EEKey != "" {
			k := opts.E2EEKey
			c.E2EEKey, c.Mode = &k, "room"
		}
		l.Connection = c
	}

	byID := make(map[string]int, len(items))
	controls := make([]Control, len(items))
	for i, it := range items {
		if _, dup := byID[it.ID]; dup {
			return nil, fmt.Errorf("layout: control id %q is used twice", it.ID)
		}
		byID[it.ID] = i
		c, err := control(it, cfg.Layout.Items[it.ID])
		if err != nil {
			return nil, err
		}
		controls[i] = c
	}
	for id := range cfg.Layout.Items {
		if _, ok := byID[id]; !ok {
			return nil, fmt.Errorf("layout: items: %q is not a control (known: %v)", id, sortedKeys(byID))
		}
	}

	// Configured tabs first, then the default tabs with what is left.
	placed := make(map[string]bool)
	for i, t := range cfg.Layout.Tabs {
		if t.Title == "" {
			return nil, fmt.Errorf("layout: tabs[%d]: title is empty", i)
		}
		icon := t.Icon
		if icon == "" {
			icon = "square.grid.2x2"
		}
		var cs []Control
		for _, id := range t.Controls {
			j, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("layout: tabs[%d] %q: %q is not a control", i, t.Title, id)
			}
			if placed[id] {
				return nil, fmt.Errorf("layout: tabs[%d] %q: %q is already in a tab", i, t.Title, id)
			}
			placed[id] = true
			cs = append(cs, controls[j])
		}
		l.Tabs = append(l.Tabs, makeTab(t.Title, icon, cs))
	}
	buckets := make([][]Control, len(defaultTabs))
	order := make([][]int, len(defaultTabs))
	for i, it := range items {
		if placed[it.ID] {
			continue
		}
		k := defaultTab(it.Kind)
		buckets[k] = append(buckets[k], controls[i])
		order[k] = append(order[k], cfg.Layout.Items[it.ID].Order)
	}
	for k, cs := range buckets {
		if len(cs) == 0 {
			continue
		}
		sortByOrder(cs, order[k])
		title := defaultTabs[k].title
		if slices.ContainsFunc(l.Tabs, func(t Tab) bool { return t.Title == title }) {
			title = "More " + title
		}
		l.Tabs = append(l.Tabs, makeTab(title, defaultTabs[k].icon, cs))
	}
	if len(l.Tabs) == 0 {
		l.Tabs = []Tab{{Title: "Home", Icon: "house", Grid: Grid{Columns: Columns, Rows: 1, Mode: "grid", RowHeight: RowHeight},
			Children: []Control{}}}
	}
	return l, nil
}

func sortByOrder(cs []Control, order []int) {
	idx := make([]int, len(cs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return order[idx[a]] < order[idx[b]] })
	sorted := make([]Control, len(cs))
	for i, j := range idx {
		sorted[i] = cs[j]
	}
	copy(cs, sorted)
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// makeTab places the controls in order, row by row, on a Columns-wide grid:
// each control takes the first free cell at or after the previous control's,
// so the reading order is the configured order and no cells overlap.
func makeTab(title, icon string, cs []Control) Tab {
	var occ [][Columns]bool
	curR, curC := 0, 0
	free := func(r, c, rs, cspan int) bool {
		if c+cspan > Columns {
			return false
		}
		for y := r; y < r+rs; y++ {
			for x := c; x < c+cspan; x++ {
				if y < len(occ) && occ[y][x] {
					return false
				}
			}
		}
		return true
	}
	for i := range cs {
		rs, csp := cs[i].Span[0], cs[i].Span[1]
		if csp > Columns {
			csp = Columns
			cs[i].Span[1] = csp
		}
		done := false
		for r := curR; !done; r++ {
			c0 := 0
			if r == curR {
				c0 = curC
			}
			for c := c0; c+csp <= Columns; c++ {
				if !free(r, c, rs, csp) {
					continue
				}
				for len(occ) < r+rs {
					occ = append(occ, [Columns]bool{})
				}
				for y := r; y < r+rs; y++ {
					for x := c; x < c+csp; x++ {
						occ[y][x] = true
					}
				}
				cs[i].Position = [2]int{r, c}
				curR, curC = r, c+csp
				done = true
				break
			}
		}
	}
	rows := len(occ)
	if rows == 0 {
		rows = 1
	}
	if cs == nil {
		cs = []Control{}
	}
	return Tab{Title: title, Icon: icon, Grid: Grid{Columns: Columns, Rows: rows, Mode: "grid", RowHeight: RowHeight}, Children: cs}
}

// JSON returns the layout as indented JSON (the /layout.json body).
func (l *Layout) JSON() ([]byte, error) {
	return json.MarshalIndent(l, "", "  ")
}

// Fingerprint identifies the layout's content (the "layout version" the
// pusher keys on): a short hash of its JSON.
func (l *Layout) Fingerprint() string {
	b, err := json.Marshal(l)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// WithoutToken returns a copy of the layout whose connection block carries no
// token and no room key (for GET /layout.json without credentials, and the
// layout pushed to phones).
func (l *Layout) WithoutToken() *Layout { return l.WithToken("") }

// Pushed returns the layout as the box pushes it to phones (apply-layout):
// no token (a phone keeps the one it paired with, and no member learns
// another's), the room key of an encrypted room kept (every member of the
// room holds it).
func (l *Layout) Pushed() *Layout {
	c := *l
	if l.Connection != nil {
		conn := *l.Connection
		conn.Token = nil
		c.Connection = &conn
	}
	return &c
}

// WithToken returns a copy of the layout whose connection block carries tok,
// the member's own token for GET /layout.json; with tok empty, no token and
// no room key (WithoutToken).
func (l *Layout) WithToken(tok string) *Layout {
	c := *l
	if l.Connection != nil {
		conn := *l.Connection
		conn.Token = nil
		if tok != "" {
			conn.Token = &tok
		} else {
			conn.E2EEKey, conn.Mode = nil, ""
		}
		c.Connection = &conn
	}
	return &c
}

// granted reports whether the relay gives role a capability by default: the
// config's role set (relay.broadcast_roles, relay.route_roles) or, when it
// is not set, the relay's §5 default set. The layout's identity flags are
// sent by the phone as can_broadcast/can_route and override the role
// default, so they must say what the relay would grant anyway.
func granted(configured, defaults []string, role string) bool {
	if configured == nil {
		configured = defaults
	}
	return slices.Contains(configured, role)
}

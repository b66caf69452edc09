package layout

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// RelayVerbs are the frame types a MeshSocket relay acts on (§6.10); an
// action on any other event is silently dropped by the relay.
var relayVerbs = []string{"broadcast_request", "route_msg", "route_msg_noreply",
	"ping", "handshake", "status_request", "get_nodes", "identify"}

// controlTypes is the app's control catalog (§14.4).
var controlTypes = []string{
	"button", "toggle", "slider", "stepper", "segmentedControl", "picker", "datePicker", "textInput",
	"colorPicker", "joystick", "camera", "sortboard", "pinboard", "compass", "canvas",
	"label", "gauge", "progressRing", "sparkline", "statusLight", "logConsole", "list", "cardList",
	"image", "map", "graph", "chart", "pieChart", "heatmap", "radar", "boxPlot", "gantt", "sankey",
	"treemap", "chord", "qrCode", "webView", "chat",
	"group", "carousel", "flipCard", "accordion", "divider", "spacer",
}

// valueKind says what a display control needs at its valuePath.
func valueKind(typ string) string {
	switch typ {
	case "toggle":
		return "bool"
	case "slider", "stepper", "gauge", "progressRing", "sparkline":
		return "number"
	case "label", "statusLight", "textInput", "segmentedControl", "picker", "button", "qrCode", "image":
		return "scalar"
	}
	return "any"
}

// Validate checks a layout (its JSON) against the §14 rules and returns every
// problem found, joined (nil when valid). When frames is non-empty (decoded
// payloads of the broadcast frames the bridge sends), every meshsocket
// "broadcast" sync must match at least one frame (§14.5 filter + valuePath)
// with a value the control can show.
func Validate(doc []byte, frames []any) error {
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		return fmt.Errorf("layout is not JSON: %w", err)
	}
	v := &validator{frames: frames, ids: map[string]string{}}
	v.layout(root)
	return errors.Join(v.errs...)
}

// ValidateLayout is Validate for a generated layout.
func ValidateLayout(l *Layout, frames []any) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return Validate(b, frames)
}

type validator struct {
	frames []any
	ids    map[string]string // control id -> path of its first use
	errs   []error
	work   int // grid cells visited
}

func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (v *validator) layout(root any) {
	obj, ok := root.(map[string]any)
	if !ok {
		v.fail("layout", "not an object")
		return
	}
	if s, ok := obj["name"].(string); !ok || s == "" {
		v.fail("name", "required non-empty string")
	}
	if _, ok := obj["version"].(float64); !ok {
		v.fail("version", "required number")
	}
	if st, ok := obj["state"]; ok && st != nil {
		v.state(st)
	}
	if c, ok := obj["connection"]; ok && c != nil {
		v.connection(c)
	}
	tabs, ok := obj["tabs"].([]any)
	if !ok || len(tabs) == 0 {
		v.fail("tabs", "required non-empty array")
		return
	}
	titles := map[string]bool{}
	for i, t := range tabs {
		path := fmt.Sprintf("tabs[%d]", i)
		tab, ok := t.(map[string]any)
		if !ok {
			v.fail(path, "not an object")
			continue
		}
		title, ok := tab["title"].(string)
		if !ok || title == "" {
			v.fail(path+".title", "required non-empty string")
		} else if titles[title] {
			v.fail(path+".title", "duplicate tab title %q (the title is the tab's id)", title)
		}
		titles[title] = true
		if s, ok := tab["icon"].(string); !ok || s == "" {
			v.fail(path+".icon", "required SF Symbol name")
		}
		v.container(path, tab)
	}
}

func (v *validator) state(st any) {
	obj, ok := st.(map[string]any)
	if !ok {
		v.fail("state", "not an object")
		return
	}
	for _, k := range []string{"sync", "acks"} {
		if x, ok := obj[k]; ok {
			if _, ok := x.(bool); !ok {
				v.fail("state."+k, "must be a bool")
			}
		}
	}
	if a, ok := obj["authority"]; ok && a != nil {
		if s, ok := a.(string); !ok || s == "" {
			v.fail("state.authority", "must be a non-empty string or null")
		}
	}
}

func (v *validator) connection(c any) {
	obj, ok := c.(map[string]any)
	if !ok {
		v.fail("connection", "not an object")
		return
	}
	if u, ok := obj["url"].(string); !ok || !(hasPrefix(u, "ws://") || hasPrefix(u, "wss://")) {
		v.fail("connection.url", "must be a ws:// or wss:// URL")
	}
	if t, ok := obj["token"]; ok && t != nil {
		if _, ok := t.(string); !ok {
			v.fail("connection.token", "must be a string or null")
		}
	}
	id, ok := obj["identity"].(map[string]any)
	if !ok {
		return
	}
	for _, k := range []string{"can_broadcast", "can_route", "can_monitor"} {
		if _, ok := id[k]; ok {
			v.fail("connection.identity."+k, "identity flags are camelCase in a layout")
		}
	}
	for _, k := range []string{"canBroadcast", "canRoute", "canMonitor"} {
		if x, ok := id[k]; ok {
			if _, ok := x.(bool); !ok {
				v.fail("connection.identity."+k, "must be a bool")
			}
		}
	}
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// container checks a tab's or group's grid and children.
func (v *validator) container(path string, obj map[string]any) {
	cols, rows, mode := 4, 0, "grid"
	if g, ok := obj["grid"].(map[string]any); ok {
		if x, ok := intField(g, "columns"); ok {
			if x < 1 {
				v.fail(path+".grid.columns", "must be >= 1")
			} else {
				cols = x
			}
		}
		if x, ok := intField(g, "rows"); ok {
			if x < 1 {
				v.fail(path+".grid.rows", "must be >= 1")
			} else {
				rows = x
			}
		}
		if m, ok := g["mode"].(string); ok {
			mode = m
		}
	}
	children, ok := obj["children"].([]any)
	if !ok {
		v.fail(path+".children", "required array")
		return
	}
	cells := map[[2]int]string{}
	for i, ch := range children {
		cp := fmt.Sprintf("%s.children[%d]", path, i)
		c, ok := ch.(map[string]any)
		if !ok {
			v.fail(cp, "not an object")
			continue
		}
		id := v.control(cp, c)
		r, col, rs, cs, ok := v.cell(cp, c)
		if !ok {
			continue
		}
		if col+cs > cols {
			v.fail(cp+".position", "columns %d..%d outside the %d-column grid", col, col+cs-1, cols)
			continue
		}
		if rows > 0 && mode != "flow" && r+rs > rows {
			v.fail(cp+".position", "rows %d..%d outside the %d-row grid", r, r+rs-1, rows)
		}
		if mode == "flow" {
			rs = 1
		}
		v.work += rs * cs
		if v.work > maxWork {
			v.fail(cp, "grid too large to check")
			return
		}
		for y := r; y < r+rs; y++ {
			for x := col; x < col+cs; x++ {
				if other, taken := cells[[2]int{y, x}]; taken {
					v.fail(cp, "%q overlaps %q at row %d, column %d", id, other, y, x)
					y, x = r+rs, col+cs // one report per control
					continue
				}
				cells[[2]int{y, x}] = id
			}
		}
	}
}

func intField(obj map[string]any, k string) (int, bool) {
	f, ok := obj[k].(float64)
	if !ok || f != math.Trunc(f) {
		return 0, false
	}
	return int(f), true
}

// maxCells bounds positions and spans (no real layout comes near it; it
// keeps a hostile document from making the overlap check allocate forever).
const maxCells = 1000

// maxWork bounds the grid cells visited in one Validate call.
const maxWork = 200000

func intPair(x any) ([2]int, bool) {
	a, ok := x.([]any)
	if !ok || len(a) != 2 {
		return [2]int{}, false
	}
	var out [2]int
	for i := range a {
		f, ok := a[i].(float64)
		if !ok || f != math.Trunc(f) || math.Abs(f) > maxCells {
			return [2]int{}, false
		}
		out[i] = int(f)
	}
	return out, true
}

func (v *validator) cell(path string, c map[string]any) (r, col, rs, cs int, ok bool) {
	pos, ok := intPair(c["position"])
	if !ok || pos[0] < 0 || pos[1] < 0 {
		v.fail(path+".position", "required [row, col] of non-negative integers")
		return 0, 0, 0, 0, false
	}
	span := [2]int{1, 1}
	if s, present := c["span"]; present {
		span, ok = intPair(s)
		if !ok || span[0] < 1 || span[1] < 1 {
			v.fail(path+".span", "must be [rowSpan, colSpan] of positive integers")
			return 0, 0, 0, 0, false
		}
	}
	return pos[0], pos[1], span[0], span[1], true
}

// control checks one control (or group) and returns its id.
func (v *validator) control(path string, c map[string]any) string {
	typ, _ := c["type"].(string)
	_, hasChildren := c["children"]
	if typ == "" && hasChildren {
		typ = "group" // older app echoes omit the group's type
	}
	if typ == "" {
		v.fail(path+".type", "required")
	} else if !slices.Contains(controlTypes, typ) {
		v.fail(path+".type", "unknown control type %q", typ)
	}
	id, _ := c["id"].(string)
	if id == "" {
		v.fail(path+".id", "required non-empty string")
	} else if first, dup := v.ids[id]; dup {
		v.fail(path+".id", "duplicate id %q (first at %s)", id, first)
	} else {
		v.ids[id] = path
	}
	if typ == "group" {
		v.container(path, c)
	}
	if typ == "gauge" {
		lo, ok1 := c["min"].(float64)
		hi, ok2 := c["max"].(float64)
		if !ok1 || !ok2 || lo >= hi {
			v.fail(path, "gauge %q needs numeric min < max", id)
		}
	}
	for _, k := range []string{"action", "longPressAction"} {
		if a, ok := c[k]; ok && a != nil {
			v.action(path+"."+k, a)
		}
	}
	if s, ok := c["sync"]; ok && s != nil {
		entries, isArr := s.([]any)
		if !isArr {
			entries = []any{s} // docs examples write a single object
		}
		for i, e := range entries {
			v.sync(fmt.Sprintf("%s.sync[%d]", path, i), typ, e)
		}
	}
	return id
}

func (v *validator) action(path string, a any) {
	obj, ok := a.(map[string]any)
	if !ok {
		v.fail(path, "not an object")
		return
	}
	if m, ok := obj["method"].(string); ok && m != "meshsocket" {
		return // mqtt/http/local: not relay traffic
	}
	event, _ := obj["event"].(string)
	if !slices.Contains(relayVerbs, event) {
		v.fail(path+".event", "%q is not a relay verb: the relay drops it and the control does nothing", event)
		return
	}
	if m, ok := obj["mode"]; ok {
		if s, _ := m.(string); s != "broadcast" && s != "request" && s != "send" {
			v.fail(path+".mode", "must be broadcast, request or send")
		}
	}
	p, _ := obj["payload"].(map[string]any)
	switch event {
	case "broadcast_request":
		if p == nil {
			v.fail(path+".payload", "a broadcast_request action needs an object payload")
		} else if s, ok := p["msg_type"].(string); !ok || s == "" {
			v.fail(path+".payload.msg_type", "required: the bridge demultiplexes on msg_type")
		}
	case "route_msg", "route_msg_noreply":
		if p == nil {
			v.fail(path+".payload", "a routed action needs an object payload")
			break
		}
		_, byID := p["target_id"].(string)
		_, byName := p["target_name"].(string)
		if !byID && !byName {
			v.fail(path+".payload", "needs target_id or target_name")
		}
		if s, ok := p["type"].(string); !ok || s == "" {
			v.fail(path+".payload.type", "required inner type")
		}
	}
}

func (v *validator) sync(path, ctype string, e any) {
	obj, ok := e.(map[string]any)
	if !ok {
		v.fail(path, "not an object")
		return
	}
	if m, ok := obj["method"].(string); ok && m != "meshsocket" {
		return
	}
	event, _ := obj["event"].(string)
	if event == "" {
		v.fail(path+".event", "required")
		return
	}
	var filter map[string]any
	if f, ok := obj["filter"]; ok && f != nil {
		if filter, ok = f.(map[string]any); !ok {
			v.fail(path+".filter", "must be an object")
			return
		}
	}
	valuePath := ""
	if p, ok := obj["valuePath"]; ok && p != nil {
		if valuePath, ok = p.(string); !ok {
			v.fail(path+".valuePath", "must be a string")
			return
		}
	}
	if len(v.frames) == 0 {
		return
	}
	if event != "broadcast" {
		v.fail(path+".event", "%q: the bridge only sends broadcast frames", event)
		return
	}
	want := valueKind(ctype)
	matched := false
	for _, fr := range v.frames {
		if !MatchFilter(filter, fr) {
			continue
		}
		val, ok := WalkPath(fr, valuePath)
		if !ok {
			continue
		}
		matched = true
		if kindOK(want, val) {
			return
		}
	}
	if matched {
		v.fail(path, "frames matching %v carry no %s at %q for a %s", filter, want, valuePath, ctype)
		return
	}
	v.fail(path, "filter %v with valuePath %q matches no frame the bridge sends", filter, valuePath)
}

func kindOK(want string, val any) bool {
	switch want {
	case "bool":
		_, ok := val.(bool)
		return ok
	case "number":
		_, ok := number(val)
		return ok
	case "scalar":
		return IsScalar(val)
	}
	return true
}

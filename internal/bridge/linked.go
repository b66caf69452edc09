package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// Linked boxes (issue #19): a box whose bridge joins another box's relay
// with a prefix (links.Upstream) announces itself on that relay with a
// box_announce broadcast after every admission and every AnnounceEvery:
//
//	{"msg_type":"box_announce","box":"garage","prefix":"garage."}
//
// A bridge that hears one leaves every command whose target starts with
// that prefix to the linked box (it neither applies nor acks it), so a
// phone gets exactly one truthful command_ack per _cmd. A prefix not
// announced for LinkedFor is forgotten.
//
// The announce also carries "v", the fingerprint of the linked box's
// layout tabs (its generated layout, ids prefixed), and, after every
// admission and once every TabsEvery announces, the tabs themselves: the
// hub (the layout's authority) merges them into its own layout and page
// (LinkedBoxes, EventLinked). A hub that has linked boxes says so with a
// box_hub broadcast (after every change and every AnnounceEvery):
//
//	{"msg_type":"box_hub","hub":"hubbox","boxes":["garage"]}
//
// and a linked box named in it leaves control_sync_request on that link
// to the hub for LinkedFor (the hub's snapshot holds its values), so a
// phone gets one snapshot, not two.
const (
	AnnounceEvery = 10 * time.Second
	LinkedFor     = 30 * time.Second
	TabsEvery     = 6 // announces: the tabs go out about once a minute
	MaxLinked     = 32
	maxPrefixLen  = 64
	// MaxLinkedTabs bounds the tabs JSON a linked box may announce.
	MaxLinkedTabs = 64 << 10
)

// linkedTable holds the announced prefixes: prefix -> box name and last
// time heard. Bounded (MaxLinked); guarded by its own mutex, never held
// across I/O.
type linkedTable struct {
	mu    sync.Mutex
	boxes map[string]linkedBox // by prefix
}

type linkedBox struct {
	name   string
	seen   time.Time
	values map[string]any  // prefixed id -> last value heard (at most maxLinkedValues)
	v      string          // the layout fingerprint last announced
	tabs   json.RawMessage // the tabs of that layout (nil until announced with it)
	avail  bool            // available when last reported (LinkedBoxes, EventLinked)
	// via is the member that heard the box (nil: unknown, as in tests). A
	// box heard through an upstream member lives on another relay: the
	// hub forwards between it and its own relay (relayed.go).
	via *Member
}

// LinkedBox is one linked box as the hub sees it.
type LinkedBox struct {
	Name, Prefix string
	// Available is false when the box left the relay or has not announced
	// for LinkedFor: its controls are unavailable (null in the snapshot).
	Available bool
	// V and Tabs are its layout: the fingerprint and the tabs JSON (ids
	// prefixed; untrusted: validate before use). Tabs is nil until the box
	// sent them.
	V    string
	Tabs json.RawMessage
}

const maxLinkedValues = 1000

// heard records a box_announce payload; bad or oversized ones are
// ignored. changed is true when the hub's view changed (a new or returning
// box, new tabs): EventLinked.
func (t *linkedTable) heard(m inMsg, now time.Time) (changed bool) { return t.heardVia(m, now, nil) }

// heardVia is heard for an announce that member via heard.
func (t *linkedTable) heardVia(m inMsg, now time.Time, via *Member) (changed bool) {
	name, prefix := m.str("box"), m.str("prefix")
	if name == "" || prefix == "" || len(prefix) > maxPrefixLen || len(name) > maxPrefixLen {
		return false
	}
	v := m.str("v")
	if len(v) > maxPrefixLen {
		v = ""
	}
	tabs := m["tabs"]
	if len(tabs) > MaxLinkedTabs || len(tabs) == 0 || tabs[0] != '[' {
		tabs = nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.boxes == nil {
		t.boxes = map[string]linkedBox{}
	}
	if _, ok := t.boxes[prefix]; !ok && len(t.boxes) >= MaxLinked {
		for p, b := range t.boxes { // make room by dropping expired entries
			if now.Sub(b.seen) > LinkedFor {
				delete(t.boxes, p)
			}
		}
		if len(t.boxes) >= MaxLinked {
			return false
		}
	}
	lb := t.boxes[prefix]
	changed = !lb.avail || lb.name != name
	lb.name, lb.seen, lb.avail, lb.via = name, now, true, via
	if v != lb.v {
		lb.v, lb.tabs, changed = v, nil, true
	}
	if tabs != nil && v != "" && !bytes.Equal(tabs, lb.tabs) {
		lb.tabs, changed = append(json.RawMessage(nil), tabs...), true
	}
	t.boxes[prefix] = lb
	return changed
}

// expire marks unavailable the boxes not announced for LinkedFor; changed
// is true when one was available until now.
func (t *linkedTable) expire(now time.Time) (changed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, lb := range t.boxes {
		if lb.avail && now.Sub(lb.seen) > LinkedFor {
			lb.avail, changed = false, true
			t.boxes[p] = lb
		}
	}
	return changed
}

// list returns the linked boxes sorted by name (Available as of now).
func (t *linkedTable) list(now time.Time) []LinkedBox {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]LinkedBox, 0, len(t.boxes))
	for p, lb := range t.boxes {
		out = append(out, LinkedBox{Name: lb.name, Prefix: p, Available: lb.avail && now.Sub(lb.seen) <= LinkedFor,
			V: lb.v, Tabs: lb.tabs})
	}
	slices.SortFunc(out, func(a, b LinkedBox) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// LinkedBoxes lists the boxes linked to this one (announced on a relay it
// is a member of), sorted by name; EventLinked says when it changed.
func (b *Bridge) LinkedBoxes() []LinkedBox { return b.linked.list(time.Now()) }

// linkedChanged publishes EventLinked (members send box_hub, the page
// merges the layout) and a control_snapshot to everyone: a box that went
// away has null values now, one that came back its own.
func (b *Bridge) linkedChanged() {
	b.pub.emit(Event{Kind: EventLinked})
	b.SendSnapshot("")
}

// heardAnnounce records a box_announce heard by member via (nil: not from
// a member) and publishes EventLinked when the hub's view changed.
func (b *Bridge) heardAnnounce(m inMsg, via *Member) {
	if b.linked.heardVia(m, time.Now(), via) {
		b.linkedChanged()
	}
}

// values records the control values in a linked box's state, metrics or
// control_snapshot payload (ids under an announced prefix only). It
// returns the member through which the (last) matching box was heard, nil
// when none matched.
func (t *linkedTable) values(m inMsg, mt string) (via *Member) {
	kv := map[string]json.RawMessage{}
	switch mt {
	case "state":
		if id := m.str("target"); id != "" {
			kv[id] = m["value"]
		}
	case "metrics":
		for k, raw := range m {
			if k != "msg_type" && k != "source" {
				kv[k] = raw
			}
		}
	case "control_snapshot":
		if json.Unmarshal(m["controls"], &kv) != nil {
			return
		}
	}
	if len(kv) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if mt == "control_snapshot" && !t.oneBox(kv) {
		// Not a linked box's own snapshot: the relay echoes this bridge's
		// merged snapshot back to it (§9: the sender is included), which
		// may hold values older than what the box sent since.
		return nil
	}
	for id, raw := range kv {
		for p, lb := range t.boxes {
			if !strings.HasPrefix(id, p) {
				continue
			}
			via = lb.via
			if lb.values == nil {
				lb.values = map[string]any{}
				t.boxes[p] = lb
			}
			if _, ok := lb.values[id]; !ok && len(lb.values) >= maxLinkedValues {
				break
			}
			var v any
			if json.Unmarshal(raw, &v) == nil {
				switch v.(type) {
				case bool, float64, string, nil:
					lb.values[id] = v
				}
			}
			break
		}
	}
	return via
}

// oneBox reports whether every id of a snapshot is under one announced
// prefix (a linked box prefixes all of its own). Called with t.mu held.
func (t *linkedTable) oneBox(kv map[string]json.RawMessage) bool {
	for p := range t.boxes {
		all := true
		for id := range kv {
			if !strings.HasPrefix(id, p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// merge adds the linked boxes' values to controls (a copy); the controls
// of a box not heard for LinkedFor are null (unavailable).
func (t *linkedTable) merge(controls map[string]any, now time.Time) map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.boxes) == 0 {
		return controls
	}
	out := make(map[string]any, len(controls))
	for k, v := range controls {
		out[k] = v
	}
	for _, lb := range t.boxes {
		gone := now.Sub(lb.seen) > LinkedFor
		for id, v := range lb.values {
			if gone {
				v = nil
			}
			out[id] = v
		}
	}
	return out
}

// linkedSnapshot is Snapshot plus the linked boxes' values (prefixed ids):
// the content of the control_snapshot this bridge sends.
func (b *Bridge) linkedSnapshot() (uint64, map[string]any) {
	v, controls := b.Snapshot()
	return v, b.linked.merge(controls, time.Now())
}

// roster marks unavailable every linked box missing from a relay roster
// (server_client_list): a box that left is gone at once, not after
// LinkedFor; its next announce (after it is admitted again) restores it.
// changed is true when a box became unavailable.
func (t *linkedTable) roster(payload json.RawMessage) (changed bool) {
	return t.rosterVia(payload, nil)
}

// rosterVia is roster for the roster member via heard: only the boxes
// heard through via are on that relay.
func (t *linkedTable) rosterVia(payload json.RawMessage, via *Member) (changed bool) {
	var list struct {
		Clients []struct {
			Name string `json:"name"`
		} `json:"clients"`
	}
	if json.Unmarshal(payload, &list) != nil || list.Clients == nil {
		return false
	}
	present := make(map[string]bool, len(list.Clients))
	for _, c := range list.Clients {
		present[c.Name] = true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, lb := range t.boxes {
		if lb.via == via && !present[lb.name] {
			changed = changed || lb.avail
			lb.seen, lb.avail = time.Time{}, false
			t.boxes[p] = lb
		}
	}
	return changed
}

// owner returns the linked box owning target ("" if none).
func (t *linkedTable) owner(target string, now time.Time) string {
	name, _ := t.ownerVia(target, now)
	return name
}

// ownerVia is owner and the member through which that box was heard.
func (t *linkedTable) ownerVia(target string, now time.Time) (string, *Member) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, b := range t.boxes {
		if strings.HasPrefix(target, p) && now.Sub(b.seen) <= LinkedFor {
			return b.name, b.via
		}
	}
	return "", nil
}

// LinkedOwner returns the name of the linked box that announced a prefix
// of target within LinkedFor, or "" when target is not a linked box's.
func (b *Bridge) LinkedOwner(target string) string {
	return b.linked.owner(target, time.Now())
}

// linkedTarget returns, for a cmd/set payload that targets a linked box's
// control, the member through which that box was heard (ok true: the
// linked box answers it; this bridge stays silent, or forwards it).
func (b *Bridge) linkedTarget(m inMsg, mt string) (via *Member, ok bool) {
	if mt != "cmd" && mt != "set" {
		return nil, false
	}
	target := m.str("target")
	if target == "" {
		target = m.str("key")
	}
	if target == "" {
		return nil, false
	}
	name, via := b.linked.ownerVia(target, time.Now())
	return via, name != ""
}

// announce sends this member's box_announce (only for a prefixed member),
// with its layout tabs when withTabs.
func (m *Member) announce(ctx context.Context, withTabs bool) {
	if m.prefix == "" {
		return
	}
	a := map[string]any{"msg_type": "box_announce", "box": m.name, "prefix": m.prefix}
	if m.tabs != nil {
		a["v"] = m.tabsV
		if withTabs {
			a["tabs"] = m.tabs
		}
	}
	p, _ := json.Marshal(a)
	m.broadcast(ctx, "box_announce", json.RawMessage(p))
}

// hubMsg is the box_hub payload: the boxes this hub aggregates.
type hubMsg struct {
	MsgType string   `json:"msg_type"`
	Hub     string   `json:"hub"`
	Boxes   []string `json:"boxes"`
}

// hubFrame returns this bridge's box_hub payload, or ok false when no
// linked box is available (nothing to aggregate).
func (b *Bridge) hubFrame(name string) (any, bool) {
	var boxes []string
	for _, lb := range b.LinkedBoxes() {
		if lb.Available {
			boxes = append(boxes, lb.Name)
		}
	}
	if len(boxes) == 0 {
		return nil, false
	}
	return hubMsg{"box_hub", name, boxes}, true
}

// tabsVersion is the fingerprint announced with a linked box's tabs.
func tabsVersion(tabs json.RawMessage) string {
	sum := sha256.Sum256(tabs)
	return hex.EncodeToString(sum[:8])
}

// hubbed handles what a linked member hears from a hub: a box_hub naming
// it starts (or extends) LinkedFor during which the hub answers
// control_sync_request on this link. skip is true for a payload the
// member must not pass to the bridge: a box_hub, or a control_sync_request
// while the hub aggregates this box.
func (m *Member) hubbed(payload json.RawMessage, now time.Time) (skip bool) {
	if m.prefix == "" {
		return false
	}
	if !bytes.Contains(payload, []byte(`"box_hub"`)) && !bytes.Contains(payload, []byte(`"control_sync_request"`)) {
		return false
	}
	var h struct {
		MsgType string   `json:"msg_type"`
		Boxes   []string `json:"boxes"`
	}
	if json.Unmarshal(payload, &h) != nil {
		return false
	}
	switch h.MsgType {
	case "box_hub":
		if slices.Contains(h.Boxes, m.name) {
			m.mu.Lock()
			m.hubUntil = now.Add(LinkedFor)
			m.mu.Unlock()
		}
		return true
	case "control_sync_request":
		m.mu.Lock()
		defer m.mu.Unlock()
		return now.Before(m.hubUntil)
	}
	return false
}

// Name is the box's name: its member name on its own relay and the
// layout's authority (config name, default "meshbox").
func (b *Bridge) Name() string {
	if b.cfg.Name != "" {
		return b.cfg.Name
	}
	return config.DefaultName
}

package bridge

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"
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
const (
	AnnounceEvery = 10 * time.Second
	LinkedFor     = 30 * time.Second
	maxLinked     = 32
	maxPrefixLen  = 64
)

// linkedTable holds the announced prefixes: prefix -> box name and last
// time heard. Bounded (maxLinked); guarded by its own mutex, never held
// across I/O.
type linkedTable struct {
	mu    sync.Mutex
	boxes map[string]linkedBox // by prefix
}

type linkedBox struct {
	name   string
	seen   time.Time
	values map[string]any // prefixed id -> last value heard (at most maxLinkedValues)
}

const maxLinkedValues = 1000

// heard records a box_announce payload; bad or oversized ones are ignored.
func (t *linkedTable) heard(m inMsg, now time.Time) {
	name, prefix := m.str("box"), m.str("prefix")
	if name == "" || prefix == "" || len(prefix) > maxPrefixLen || len(name) > maxPrefixLen {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.boxes == nil {
		t.boxes = map[string]linkedBox{}
	}
	if _, ok := t.boxes[prefix]; !ok && len(t.boxes) >= maxLinked {
		for p, b := range t.boxes { // make room by dropping expired entries
			if now.Sub(b.seen) > LinkedFor {
				delete(t.boxes, p)
			}
		}
		if len(t.boxes) >= maxLinked {
			return
		}
	}
	lb := t.boxes[prefix]
	lb.name, lb.seen = name, now
	t.boxes[prefix] = lb
}

// values records the control values in a linked box's state, metrics or
// control_snapshot payload (ids under an announced prefix only).
func (t *linkedTable) values(m inMsg, mt string) {
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
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, raw := range kv {
		for p, lb := range t.boxes {
			if !strings.HasPrefix(id, p) {
				continue
			}
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
func (t *linkedTable) roster(payload json.RawMessage) {
	var list struct {
		Clients []struct {
			Name string `json:"name"`
		} `json:"clients"`
	}
	if json.Unmarshal(payload, &list) != nil || list.Clients == nil {
		return
	}
	present := make(map[string]bool, len(list.Clients))
	for _, c := range list.Clients {
		present[c.Name] = true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, lb := range t.boxes {
		if !present[lb.name] {
			lb.seen = time.Time{}
			t.boxes[p] = lb
		}
	}
}

// owner returns the linked box owning target ("" if none).
func (t *linkedTable) owner(target string, now time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, b := range t.boxes {
		if strings.HasPrefix(target, p) && now.Sub(b.seen) <= LinkedFor {
			return b.name
		}
	}
	return ""
}

// LinkedOwner returns the name of the linked box that announced a prefix
// of target within LinkedFor, or "" when target is not a linked box's.
func (b *Bridge) LinkedOwner(target string) string {
	return b.linked.owner(target, time.Now())
}

// forLinkedBox reports whether a cmd/set payload targets a linked box's
// control (the linked box answers it; this bridge stays silent).
func (b *Bridge) forLinkedBox(m inMsg, mt string) bool {
	if mt != "cmd" && mt != "set" {
		return false
	}
	target := m.str("target")
	if target == "" {
		target = m.str("key")
	}
	return target != "" && b.LinkedOwner(target) != ""
}

// announce sends this member's box_announce (only for a prefixed member).
func (m *Member) announce(ctx context.Context) {
	if m.prefix == "" {
		return
	}
	p, _ := json.Marshal(map[string]any{"msg_type": "box_announce", "box": m.name, "prefix": m.prefix})
	sealed, err := m.seal(json.RawMessage(p))
	if err != nil {
		m.log.Error("bridge: cannot seal box_announce; not sent", "err", err)
		return
	}
	if err := m.Client.Send(ctx, "broadcast_request", sealed); err != nil && ctx.Err() == nil {
		m.log.Debug("bridge: box_announce not sent", "err", err)
	}
}

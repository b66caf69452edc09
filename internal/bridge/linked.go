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
	name string
	seen time.Time
}

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
	t.boxes[prefix] = linkedBox{name: name, seen: now}
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

package bridge

import (
	"encoding/json"
	"sync"
	"time"
)

// A hub on a plain relay (issue #19). When the boxes share a relay that is
// not a meshbox (the reference Python relay), the hub box joins it with
// plain ids (an upstream link with id_prefix ""), hears the linked boxes'
// box_announce there and aggregates them as if they had joined its own
// relay: their tabs in its layout and page, their values in its snapshot,
// one truthful ack per command, box_hub so they leave snapshots to it.
// For the phones on the hub's own relay it also forwards between the two
// relays, through the members' own writers (never blocking the reader):
//
//   - a command from its own relay for a box heard over the upstream
//     member goes out there (the box applies and acks it);
//   - that box's state and metrics, and the acks of commands it forwarded,
//     come back to its own relay.
//
// Nothing else crosses: the hub answers snapshots itself (merged), and a
// member never forwards what it heard back to the relay it came from.
const (
	fwdQueue   = 64               // payloads waiting for one member's writer
	maxRelayed = 256              // forwarded command ids remembered for their acks
	relayedFor = 10 * time.Second // how long an ack is awaited
)

// memberSet is the bridge's memberships and the command ids it forwarded.
// Its mutex is never held across I/O: forwarding is a channel send that
// never waits.
type memberSet struct {
	mu      sync.Mutex
	list    []*Member
	relayed map[string]time.Time // _cmd -> forwarded at
	dropped uint64               // forwards refused because a writer was behind
}

func (b *Bridge) addMember(m *Member) {
	b.members.mu.Lock()
	b.members.list = append(b.members.list, m)
	b.members.mu.Unlock()
}

func (b *Bridge) removeMember(m *Member) {
	s := &b.members
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.list {
		if x == m {
			s.list = append(s.list[:i], s.list[i+1:]...)
			return
		}
	}
}

// toHome queues payload for every member on the box's own relay.
func (b *Bridge) toHome(payload json.RawMessage) {
	s := &b.members
	s.mu.Lock()
	home := make([]*Member, 0, 1)
	for _, m := range s.list {
		if !m.upstream {
			home = append(home, m)
		}
	}
	s.mu.Unlock()
	for _, m := range home {
		b.offer(m, payload)
	}
}

// forwardCommand queues a command for the upstream member via and
// remembers its _cmd, so its ack comes back.
func (b *Bridge) forwardCommand(via *Member, payload json.RawMessage, cmdID string) {
	if cmdID != "" {
		s := &b.members
		now := time.Now()
		s.mu.Lock()
		if s.relayed == nil {
			s.relayed = map[string]time.Time{}
		}
		if len(s.relayed) >= maxRelayed {
			for id, at := range s.relayed {
				if now.Sub(at) > relayedFor {
					delete(s.relayed, id)
				}
			}
		}
		if len(s.relayed) < maxRelayed {
			s.relayed[cmdID] = now
		}
		s.mu.Unlock()
	}
	b.offer(via, payload)
}

// forwardedAck reports (once) whether cmdID is a command this bridge
// forwarded within relayedFor.
func (b *Bridge) forwardedAck(cmdID string) bool {
	if cmdID == "" {
		return false
	}
	s := &b.members
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.relayed[cmdID]
	delete(s.relayed, cmdID)
	return ok && time.Since(at) <= relayedFor
}

// offer hands payload to m's writer without waiting; a writer that is
// behind loses it (counted, logged at a low rate).
func (b *Bridge) offer(m *Member, payload json.RawMessage) {
	select {
	case m.fwd <- payload:
	default:
		b.members.mu.Lock()
		b.members.dropped++
		b.members.mu.Unlock()
		if ok, n := b.logLimit.allow("forward-dropped"); ok {
			m.log.Warn("bridge: a frame for another relay was dropped: that link is behind", "suppressed", n)
		}
	}
}

// crossing handles what a hub forwards between relays for a payload that
// member from heard (nil: not from a member, as from the box's own relay).
// It reports whether the payload is done with (a linked box's command:
// the box applies and acks it).
func (b *Bridge) crossing(from *Member, m inMsg, mt string, payload json.RawMessage) (done bool) {
	fromUp := from != nil && from.upstream
	switch mt {
	case "state", "metrics":
		if via := b.linked.values(m, mt); via != nil && via == from && fromUp {
			b.toHome(payload) // the hub's own phones see the box's live values
		}
		return true
	case "control_snapshot":
		b.linked.values(m, mt) // the hub answers snapshots itself, merged
		return true
	case "command_ack":
		if fromUp && b.forwardedAck(m.str("cmd_id")) {
			b.toHome(payload)
		}
		return true
	}
	via, linked := b.linkedTarget(m, mt)
	if !linked {
		return false
	}
	if via != nil && via.upstream && !fromUp {
		b.forwardCommand(via, payload, m.str("_cmd"))
	}
	return true
}

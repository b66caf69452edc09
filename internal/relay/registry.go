package relay

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/wire"
)

// placeholder names a client that sent no name (reference: "Client-<n>").
func (s *Server) placeholder() string {
	return "Client-" + uuid.NewString()[:8]
}

func (s *Server) releaseSlot(c *conn) {
	s.mu.Lock()
	s.releaseSlotLocked(c)
	s.mu.Unlock()
}

// releaseSlotLocked frees c's pending-per-IP slot (auth resolved or closed).
func (s *Server) releaseSlotLocked(c *conn) {
	if !c.holdsSlot {
		return
	}
	c.holdsSlot = false
	if c.pendEl != nil {
		s.pendingQ.Remove(c.pendEl)
		c.pendEl = nil
	}
	if n := s.pendingIP[c.ip] - 1; n > 0 {
		s.pendingIP[c.ip] = n
	} else {
		delete(s.pendingIP, c.ip)
	}
}

// register admits an identified connection: it evicts a same-name incumbent,
// assigns a fresh id, inserts the member, queues welcome as its first frame
// and pushes the roster (including the joiner) to every monitor — all under
// one lock, so no broadcast can slip in before welcome.
func (s *Server) register(c *conn, ident identity) {
	// Log lines are written after the unlock: no I/O under s.mu.
	var logs []func()
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		for _, f := range logs {
			f()
		}
	}()
	s.releaseSlotLocked(c)
	if s.closed {
		c.requestClose(websocket.CloseGoingAway, "server shutting down")
		return
	}
	if c.evicted || c.closing.Load() {
		return // evicted (pending cap) or closed while identifying
	}
	if old := s.byName[ident.name]; old != nil && old != c {
		if old.ident.scope < ident.scope {
			// A phone credential cannot take the name of a member with more
			// rights (a hub): it would receive the hub's routed requests.
			s.stats.rejected.Add(1)
			logs = append(logs, func() {
				c.logger().Warn("relay: name belongs to a member with more rights, refused", "name", ident.name, "scope", ident.scope.String())
			})
			c.requestClose(websocket.ClosePolicyViolation, reasonNameTaken)
			return
		}
		if old.pipe && !c.pipe {
			// The box's own members (the bridge) cannot be evicted from the
			// network: a phone misnamed "meshbox" would otherwise take the
			// hub's name and the two would evict each other forever.
			s.stats.rejected.Add(1)
			logs = append(logs, func() { c.logger().Warn("relay: name belongs to an in-process member, refused", "name", ident.name) })
			c.requestClose(websocket.ClosePolicyViolation, reasonNameReserved)
			return
		}
		s.removeLocked(old)
		logs = append(logs, func() { old.logger().Info("relay: evicted by a newer connection with the same name") })
		old.requestClose(websocket.CloseNormalClosure, "replaced by a newer connection with the same name")
	}
	id := uuid.NewString()
	for s.byID[id] != nil {
		id = uuid.NewString()
	}
	c.id, c.ident, c.registered = id, ident, true
	c.names.Store(&[2]string{id, ident.name})
	s.byID[id] = c
	s.byName[ident.name] = c
	s.all = append(s.all, c)
	s.byChan[ident.channel] = append(s.byChan[ident.channel], c)
	if ident.canMonitor {
		s.monitors = append(s.monitors, c)
	}
	p := append([]byte(`{"id":"`), id...) // a uuid needs no escaping
	p = append(p, `","name":`...)
	p = wire.AppendString(p, ident.name)
	p = append(p, '}')
	c.sendFirst(s.frame(nil, "welcome", p, ""))
	s.publishLocked() // after welcome: no broadcast reaches c before it
	s.pushRosterLocked()
	logs = append(logs, func() {
		c.logger().Log(context.Background(), memberLevel(c.pipe, ident.name), "relay: joined", "channel", ident.channel,
			"role", ident.role, "scope", ident.scope.String(),
			"can_broadcast", ident.canBroadcast, "can_route", ident.canRoute, "can_monitor", ident.canMonitor)
	})
}

// memberLevel is the level of a member's joined/left lines: DEBUG for the
// box's in-process members and for meshbox's own page and CLI, which
// connect for seconds at every page load or command ("page-…",
// "meshbox-cli-…"); INFO for phones and every other client.
func memberLevel(pipe bool, name string) slog.Level {
	if pipe || strings.HasPrefix(name, "page-") || strings.HasPrefix(name, "meshbox-cli-") {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// unregister takes c out of the tables now (reaping) and tells the monitors.
func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	if c.registered {
		s.removeLocked(c)
		s.pushRosterLocked()
	}
	s.mu.Unlock()
}

// removeLocked takes c out of the member tables (identity-checked).
func (s *Server) removeLocked(c *conn) {
	if !c.registered {
		return
	}
	c.registered = false
	if s.byID[c.id] == c {
		delete(s.byID, c.id)
	}
	if s.byName[c.ident.name] == c {
		delete(s.byName, c.ident.name)
	}
	s.all = without(s.all, c)
	if l := without(s.byChan[c.ident.channel], c); len(l) > 0 {
		s.byChan[c.ident.channel] = l
	} else {
		delete(s.byChan, c.ident.channel)
	}
	s.monitors = without(s.monitors, c)
	s.publishLocked()
}

// without returns l less c, as a new slice: published lists are never
// modified in place (fan-out reads them without a lock).
func without(l []*conn, c *conn) []*conn {
	i := slices.Index(l, c)
	if i < 0 {
		return l
	}
	out := make([]*conn, 0, len(l)-1)
	return append(append(out, l[:i]...), l[i+1:]...)
}

// memberView is an immutable snapshot of the member lists for fan-out
// (copy-on-write): broadcasts take no lock and never block a join.
type memberView struct {
	all    []*conn
	byChan map[string][]*conn
}

// publishLocked publishes the current lists. Appends to them only ever
// write past the length a published view sees, and removals copy.
func (s *Server) publishLocked() {
	s.view.Store(&memberView{all: s.all, byChan: maps.Clone(s.byChan)})
}

// pushRosterLocked sends server_client_list to every monitor: global-scope
// monitors see everyone, channel-scope monitors their channel; the list
// includes the monitor itself (§6.8). Each distinct list is encoded once.
func (s *Server) pushRosterLocked() {
	if len(s.monitors) == 0 {
		return
	}
	var global []byte
	perChan := map[string][]byte{}
	for _, m := range s.monitors {
		var p []byte
		if m.ident.scopeGlobal {
			if global == nil {
				global = rosterJSON(s.all, nil)
			}
			p = global
		} else {
			ch := m.ident.channel
			if p = perChan[ch]; p == nil {
				p = rosterJSON(s.byChan[ch], nil)
				perChan[ch] = p
			}
		}
		m.enqueue(s.frame(nil, "server_client_list", p, ""))
	}
}

// visibleLocked lists the members m may see (its scope), except skip.
func (s *Server) visibleLocked(m *conn, skip *conn) []byte {
	if m.ident.scopeGlobal {
		return rosterJSON(s.all, skip)
	}
	return rosterJSON(s.byChan[m.ident.channel], skip)
}

// rosterJSON encodes {"clients":[{"id","name","channel","role"},...]}.
func rosterJSON(list []*conn, skip *conn) []byte {
	b := make([]byte, 0, 16+len(list)*96)
	b = append(b, `{"clients":[`...)
	first := true
	for _, c := range list {
		if c == skip {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"id":`...)
		b = wire.AppendString(b, c.id)
		b = append(b, `,"name":`...)
		b = wire.AppendString(b, c.ident.name)
		b = append(b, `,"channel":`...)
		b = wire.AppendString(b, c.ident.channel)
		b = append(b, `,"role":`...)
		b = wire.AppendString(b, c.ident.role)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// frame encodes a relay-emitted frame with a fresh id into dst.
func (s *Server) frame(dst []byte, typ string, payload []byte, replyTo string) []byte {
	if dst == nil {
		dst = make([]byte, 0, 64+len(typ)+len(payload)+len(replyTo))
	}
	return wire.AppendFrame(dst, s.ids.appendID, typ, payload, replyTo)
}

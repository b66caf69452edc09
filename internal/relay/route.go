package relay

import (
	"encoding/json"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
)

// route is a route_msg waiting for the target's reply. It lives in the
// target's pending table, keyed by the id of the frame sent to the target.
type route struct {
	from  *conn
	req   inFrame // the requester's route_msg frame (its id is the reply's reply_to)
	timer *time.Timer
}

// answer sends the requester its reply (payload) once.
func (r *route) answer(payload []byte) {
	r.from.outstanding.Add(-1)
	r.from.enqueue(r.from.s.replyFrame(r.req, payload))
}

// routeTarget is a parsed route payload.
type routeTarget struct {
	id, name, typ string
	payload       json.RawMessage
}

// parseRoute checks the §6.5 shapes: an object with a string type and a
// string target_id or target_name (a present non-null non-string is
// malformed).
func parseRoute(p []byte) (routeTarget, bool) {
	var m map[string]json.RawMessage
	if len(p) == 0 || p[0] != '{' || json.Unmarshal(p, &m) != nil {
		return routeTarget{}, false
	}
	var rt routeTarget
	var ok bool
	if rt.typ, ok = jsonString(m["type"]); !ok {
		return routeTarget{}, false
	}
	has := 0
	for _, k := range []struct {
		key string
		dst *string
	}{{"target_id", &rt.id}, {"target_name", &rt.name}} {
		raw, present := m[k.key]
		if !present || isNull(raw) {
			continue
		}
		if *k.dst, ok = jsonString(raw); !ok {
			return routeTarget{}, false
		}
		has++
	}
	if has == 0 {
		return routeTarget{}, false
	}
	rt.payload = m["payload"]
	if isNull(rt.payload) {
		rt.payload = nil
	}
	return rt, true
}

// resolve finds the target (byNameFirst for noreply) and checks permissions
// in the reference order. It returns the error payload on failure.
func (c *conn) resolve(rt routeTarget, byNameFirst bool) (*conn, string) {
	s := c.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	lookup := func(byName bool) *conn {
		if byName {
			if rt.name == "" {
				return nil
			}
			return s.byName[rt.name]
		}
		if rt.id == "" {
			return nil
		}
		return s.byID[rt.id]
	}
	t := lookup(byNameFirst)
	if t == nil {
		t = lookup(!byNameFirst)
	}
	switch {
	case t == nil:
		return nil, errNotFound
	case !c.ident.canRoute:
		return nil, errRouting
	case t.ident.channel != c.ident.channel && !c.ident.canCross:
		return nil, errCrossChan
	}
	return t, ""
}

// routeMsg forwards a request to one member and relays its reply (§6.5).
func (c *conn) routeMsg(f inFrame) {
	rt, ok := parseRoute(f.Payload)
	if !ok {
		c.reply(f, []byte(errMalformed))
		return
	}
	t, e := c.resolve(rt, false)
	if e != "" {
		c.refuseRoute(f, rt, e)
		return
	}
	if int(c.outstanding.Load()) >= c.s.cfg.MaxOutstandingRoutes {
		c.reply(f, []byte(errTooMany))
		return
	}
	c.outstanding.Add(1)
	r := &route{from: c, req: inFrame{Frame: wire.Frame{ID: f.ID, Type: "route_msg"}, rawID: f.rawID}}
	fid := c.s.ids.next()
	t.pmu.Lock()
	if t.gone {
		t.pmu.Unlock()
		r.answer([]byte(errTimeout))
		return
	}
	if t.pending == nil {
		t.pending = make(map[string]*route)
	}
	t.pending[fid] = r
	r.timer = time.AfterFunc(c.s.cfg.RouteTimeout, func() {
		if t.takePending(fid) != nil {
			c.s.stats.routeTimeouts.Add(1)
			r.answer([]byte(errTimeout))
		}
	})
	t.pmu.Unlock()
	b := []byte(`{"id":"`)
	b = append(b, fid...)
	b = append(b, `","type":`...)
	b = wire.AppendString(b, rt.typ)
	b = append(b, `,"payload":`...)
	if rt.payload == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, rt.payload...)
	}
	t.enqueue(append(b, `,"reply_to":null}`...))
}

// routeNoReply forwards a frame by name (then id) without a reply (§6.6).
func (c *conn) routeNoReply(f inFrame) {
	rt, ok := parseRoute(f.Payload)
	if !ok {
		c.reply(f, []byte(errMalformed))
		return
	}
	t, e := c.resolve(rt, true)
	if e != "" {
		c.refuseRoute(f, rt, e)
		return
	}
	t.enqueue(c.s.frame(nil, rt.typ, rt.payload, ""))
}

// refuseRoute answers a refused route; a viewer's routed command that
// carried _cmd also gets the read-only command_ack.
func (c *conn) refuseRoute(f inFrame, rt routeTarget, e string) {
	c.reply(f, []byte(e))
	if e == errRouting && c.ident.scope == ScopeViewer {
		c.readOnlyAck(payloadCmdID(rt.payload))
	}
}

func (c *conn) takePending(id string) *route {
	c.pmu.Lock()
	r := c.pending[id]
	if r != nil {
		delete(c.pending, id)
	}
	c.pmu.Unlock()
	return r
}

// resolveReply matches a reply from this member to a routed request; an
// unmatched reply is a stray and is dropped (§3.1).
func (c *conn) resolveReply(f inFrame) {
	r := c.takePending(f.ReplyTo)
	if r == nil {
		c.s.stats.ignored.Add(1)
		return
	}
	r.timer.Stop()
	if f.Payload == nil {
		r.answer([]byte(errTimeout)) // the reference treats a null answer as no answer
		return
	}
	r.answer(f.Payload)
}

// failPending answers every route waiting on this (departed) member with
// "target timeout" right away instead of after the timeout.
func (c *conn) failPending() {
	c.pmu.Lock()
	c.gone = true
	p := c.pending
	c.pending = nil
	c.pmu.Unlock()
	for _, r := range p {
		r.timer.Stop()
		r.answer([]byte(errTimeout))
	}
}

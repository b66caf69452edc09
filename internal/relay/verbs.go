package relay

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/wire"
)

// Reply payloads (§9). The JSON is compact; clients parse, not compare bytes.
const (
	ackSent        = `{"status":"sent"}`
	ackForwarded   = `{"status":"forwarded"}`
	ackBroadcasted = `{"status":"broadcasted"}`
	errBroadcast   = `{"error":"broadcast not allowed","status":"failed"}`
	errLogBcast    = `{"error":"log broadcast not allowed","status":"failed"}`
	errRouting     = `{"error":"routing not allowed","status":"failed"}`
	errCrossChan   = `{"error":"cross-channel route denied","status":"failed"}`
	errNotFound    = `{"error":"Target not found","status":"failed"}`
	errTimeout     = `{"error":"target timeout","status":"failed"}`
	errTooMany     = `{"error":"too many outstanding routes","status":"failed"}`
	errMalformed   = `{"error":"malformed route","status":"failed"}`
	pong           = `"pong"`
)

// broadcastVerb describes a fan-out verb (§6.3, §6.4).
type broadcastVerb struct {
	out    string // type of the fanned-out frames
	ok     string
	denied string
}

func broadcastVerbs(typ string) (broadcastVerb, bool) {
	switch typ {
	case "broadcast_request":
		return broadcastVerb{"broadcast", ackSent, errBroadcast}, true
	case "iCloud_data_Broadcast":
		return broadcastVerb{"iCloudListen", ackSent, errBroadcast}, true
	case "place_visit_Broadcast":
		return broadcastVerb{"placeVisitListen", ackSent, errBroadcast}, true
	case "request_prediction":
		return broadcastVerb{"request_prediction", ackForwarded, errBroadcast}, true
	case "prediction_result":
		return broadcastVerb{"prediction_result", ackForwarded, errBroadcast}, true
	case "service_log":
		return broadcastVerb{"service_log", ackBroadcasted, errLogBcast}, true
	case "node_status":
		return broadcastVerb{"node_status", ackBroadcasted, errBroadcast}, true
	}
	return broadcastVerb{}, false
}

// dispatch handles one frame of an admitted member (§6).
func (c *conn) dispatch(f inFrame) {
	if f.isReply {
		c.resolveReply(f) // a reply to a routed request, or a stray (dropped)
		return
	}
	if v, ok := broadcastVerbs(f.Type); ok {
		if !c.ident.canBroadcast {
			c.reply(f, []byte(v.denied))
			return
		}
		if c.ident.scope == ScopeViewer && f.Type == "broadcast_request" {
			if cmd, ok := commandShaped(f.Payload); ok {
				c.reply(f, []byte(errReadOnly))
				c.readOnlyAck(cmd)
				return
			}
		}
		c.s.fanout(c, v.out, f.Payload)
		if !c.quiet {
			c.reply(f, []byte(v.ok))
		}
		return
	}
	switch f.Type {
	case "identify":
		c.logger().Info("relay: second identify refused")
		c.requestClose(websocket.ClosePolicyViolation, reasonReidentify)
	case "route_msg":
		c.routeMsg(f)
	case "route_msg_noreply":
		c.routeNoReply(f)
	case "get_nodes":
		c.getNodes(f)
	case "ping":
		c.reply(f, []byte(pong))
	case "handshake":
		c.handshake(f)
	case "status_request":
		c.statusRequest(f)
	default:
		// welcome from a client, unknown types: ignored (§6.10).
		c.s.stats.ignored.Add(1)
	}
}

// reply queues a §3.1 reply to f.
func (c *conn) reply(f inFrame, payload []byte) {
	c.enqueue(c.s.replyFrame(f, payload))
}

// fanout sends {type: typ, payload} to every member in the sender's scope,
// the sender included. The frame is encoded once and shared by every copy;
// each copy still gets its own id, written by the recipient's writer (see
// outMsg), so the loop allocates nothing per delivery.
func (s *Server) fanout(from *conn, typ string, payload []byte) {
	b := make([]byte, 0, idEnd+48+len(typ)+len(payload))
	b = append(b, `{"id":"`...)
	b = append(b, idPlaceholder...)
	b = append(b, `","type":`...)
	b = wire.AppendString(b, typ)
	b = append(b, `,"payload":`...)
	if len(payload) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, payload...)
	}
	b = append(b, `,"reply_to":null}`...)
	m := outMsg{b: b, fresh: true}

	v := s.view.Load() // no lock: a copy-on-write snapshot
	targets := v.all
	if !from.ident.scopeGlobal {
		targets = v.byChan[from.ident.channel]
	}
	for _, t := range targets {
		if t == from && from.quiet {
			continue
		}
		t.enqueueOut(m)
	}
}

// idPlaceholder fills the id of a shared frame; writers always replace it.
const idPlaceholder = "00000000-0000-4000-8000-000000000000"

func (c *conn) getNodes(f inFrame) {
	if !c.ident.canMonitor {
		c.reply(f, []byte(`{"clients":[]}`))
		return
	}
	c.s.mu.RLock()
	p := c.s.visibleLocked(c, c)
	c.s.mu.RUnlock()
	c.reply(f, p)
}

// handshake answers {"server_id": <the asker's id>, "l": now - t}.
func (c *conn) handshake(f inFrame) {
	var h struct {
		T *float64 `json:"t"`
	}
	l := 0.0
	if json.Unmarshal(f.Payload, &h) == nil && h.T != nil {
		l = float64(time.Now().UnixNano())/1e9 - *h.T
	}
	p := []byte(`{"server_id":`)
	p = wire.AppendString(p, c.id)
	p = append(p, `,"l":`...)
	p = strconv.AppendFloat(p, l, 'f', -1, 64)
	c.reply(f, append(p, '}'))
}

func (c *conn) statusRequest(f inFrame) {
	p := []byte(`{"name":`)
	p = wire.AppendString(p, c.ident.name)
	p = append(p, `,"id":`...)
	p = wire.AppendString(p, c.id)
	p = append(p, `,"status":"online","uptime":`...)
	p = strconv.AppendFloat(p, time.Since(c.born).Seconds(), 'f', 3, 64)
	c.reply(f, append(p, `,"memory_usage":"unknown"}`...))
}

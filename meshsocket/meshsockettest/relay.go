// Package meshsockettest provides a tiny, independent MeshSocket relay for
// tests of MeshSocket clients (like net/http/httptest for HTTP), written
// from the protocol spec (§4, §6) so the Go client is not only tested
// against meshbox's own relay. Serve it with httptest.NewServer. It implements identify →
// welcome (token check, 1008 "unauthorized"), broadcast_request fan-out
// (sender included) + {"status":"sent"}, route_msg by target_id, get_nodes,
// ping, and can turn deaf (stop reading after welcome) for keepalive tests.
package meshsockettest

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/meshbox/meshbox/internal/wire"
)

// Relay is an http.Handler speaking the relay side of MeshSocket.
type Relay struct {
	// Token, when set, is the shared key identify must carry as "token".
	Token string
	// Deaf: connections accepted while set stop reading after welcome
	// (so WebSocket pings are never answered).
	Deaf atomic.Bool

	upgrader websocket.Upgrader

	mu       sync.Mutex
	conns    map[*conn]struct{} // every open connection
	byID     map[string]*conn   // admitted
	received map[string][]wire.Frame
	closed   bool
	wg       sync.WaitGroup
}

type conn struct {
	ws      *websocket.Conn
	wmu     sync.Mutex
	id      string
	name    string
	channel string
	role    string
	monitor bool
	global  bool

	pmu     sync.Mutex
	pending map[string]chan json.RawMessage // route ids awaiting this conn's reply
	quit    chan struct{}
	qonce   sync.Once
}

func (c *conn) stop() { c.qonce.Do(func() { close(c.quit) }) }

// New returns an empty relay.
func New() *Relay {
	return &Relay{
		conns:    map[*conn]struct{}{},
		byID:     map[string]*conn{},
		received: map[string][]wire.Frame{},
	}
}

// Received returns the frames the relay got from clients named name, in
// arrival order (identify excluded).
func (r *Relay) Received(name string) []wire.Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire.Frame(nil), r.received[name]...)
}

// Admitted returns the number of admitted connections.
func (r *Relay) Admitted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// Close closes every connection (1001) and waits for their handlers.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closed = true
	cs := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	for _, c := range cs {
		c.close(websocket.CloseGoingAway, "")
	}
	r.wg.Wait()
}

func (c *conn) send(f wire.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, wire.Encode(f))
}

func (c *conn) close(code int, reason string) {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
	c.stop()
}

func (c *conn) reply(to wire.Frame, payload any) {
	b, _ := json.Marshal(payload)
	_ = c.send(wire.Frame{ID: wire.NewID(), Type: to.Type, Payload: b, ReplyTo: to.ID})
}

// ServeHTTP upgrades and serves one connection.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ws, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws, pending: map[string]chan json.RawMessage{}, quit: make(chan struct{})}
	deaf := r.Deaf.Load() // decided at accept time
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = ws.Close()
		return
	}
	r.conns[c] = struct{}{}
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		if r.byID[c.id] == c {
			delete(r.byID, c.id)
		}
		r.mu.Unlock()
		_ = ws.Close()
		c.stop()
	}()
	if !r.identify(c) {
		return
	}
	if deaf {
		<-c.quit
		return
	}
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		f, err := wire.Decode(msg)
		if err != nil {
			continue
		}
		r.mu.Lock()
		r.received[c.name] = append(r.received[c.name], f)
		r.mu.Unlock()
		r.handle(c, f)
	}
}

func (r *Relay) identify(c *conn) bool {
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := c.ws.ReadMessage()
	if err != nil {
		return false
	}
	_ = c.ws.SetReadDeadline(time.Time{})
	f, err := wire.Decode(msg)
	if err != nil || f.Type != "identify" {
		c.close(websocket.CloseNormalClosure, "")
		return false
	}
	var p struct {
		Name      string `json:"name"`
		Token     any    `json:"token"`
		Channel   string `json:"channel"`
		Role      string `json:"role"`
		Monitor   bool   `json:"can_monitor"`
		Broadcast string `json:"broadcast_scope"`
	}
	_ = json.Unmarshal(f.Payload, &p)
	if r.Token != "" {
		if tok, _ := p.Token.(string); tok != r.Token {
			c.close(websocket.ClosePolicyViolation, "unauthorized")
			return false
		}
	}
	if p.Channel == "" {
		p.Channel = "default"
	}
	c.id, c.name, c.channel, c.role, c.monitor = wire.NewID(), p.Name, p.Channel, p.Role, p.Monitor
	c.global = p.Broadcast == "global" || (p.Broadcast == "" && p.Monitor)
	r.mu.Lock()
	var evict *conn
	for _, o := range r.byID {
		if o.name == c.name {
			evict = o
		}
	}
	if evict != nil {
		delete(r.byID, evict.id)
	}
	r.byID[c.id] = c
	r.mu.Unlock()
	if evict != nil {
		evict.close(websocket.CloseNormalClosure, "")
	}
	wp, _ := json.Marshal(map[string]string{"id": c.id, "name": c.name})
	return c.send(wire.Frame{ID: wire.NewID(), Type: "welcome", Payload: wp}) == nil
}

func (r *Relay) peers(c *conn, global bool) []*conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*conn
	for _, o := range r.byID {
		if global || o.channel == c.channel {
			out = append(out, o)
		}
	}
	return out
}

func (r *Relay) handle(c *conn, f wire.Frame) {
	if f.ReplyTo != "" {
		c.pmu.Lock()
		ch := c.pending[f.ReplyTo]
		delete(c.pending, f.ReplyTo)
		c.pmu.Unlock()
		if ch != nil {
			ch <- f.Payload
		}
		return
	}
	switch f.Type {
	case "ping":
		c.reply(f, "pong")
	case "broadcast_request":
		for _, o := range r.peers(c, c.global) {
			_ = o.send(wire.Frame{ID: wire.NewID(), Type: "broadcast", Payload: f.Payload})
		}
		c.reply(f, map[string]string{"status": "sent"})
	case "get_nodes":
		list := []map[string]string{}
		if c.monitor {
			for _, o := range r.peers(c, c.global) {
				if o != c {
					list = append(list, map[string]string{"id": o.id, "name": o.name, "channel": o.channel, "role": o.role})
				}
			}
		}
		c.reply(f, map[string]any{"clients": list})
	case "route_msg":
		var p struct {
			TargetID string          `json:"target_id"`
			Type     string          `json:"type"`
			Payload  json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(f.Payload, &p) != nil || p.Type == "" {
			c.reply(f, map[string]string{"error": "malformed route", "status": "failed"})
			return
		}
		r.mu.Lock()
		t := r.byID[p.TargetID]
		r.mu.Unlock()
		if t == nil {
			c.reply(f, map[string]string{"error": "Target not found", "status": "failed"})
			return
		}
		// Wait for the target's reply off the reader goroutine.
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			id := wire.NewID()
			ch := make(chan json.RawMessage, 1)
			t.pmu.Lock()
			t.pending[id] = ch
			t.pmu.Unlock()
			_ = t.send(wire.Frame{ID: id, Type: p.Type, Payload: p.Payload})
			select {
			case out := <-ch:
				if len(out) == 0 {
					c.reply(f, map[string]string{"error": "target timeout", "status": "failed"})
					return
				}
				_ = c.send(wire.Frame{ID: wire.NewID(), Type: f.Type, Payload: out, ReplyTo: f.ID})
			case <-time.After(5 * time.Second):
				c.reply(f, map[string]string{"error": "target timeout", "status": "failed"})
			case <-c.quit:
			}
		}()
	}
}

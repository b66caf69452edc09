package hil

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/meshbox/meshbox/internal/wire"
)

// phone is a raw MeshSocket client as the phone app joins: identify, then
// broadcast_request commands and broadcast frames back.
type phone struct {
	ws     *websocket.Conn
	frames chan wire.Frame
	wmu    sync.Mutex
	done   chan struct{}
	err    error // read error, valid once done is closed
}

func dialPhone(ctx context.Context, url, token string) (*phone, error) {
	d := websocket.Dialer{HandshakeTimeout: 3 * time.Second}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	p := &phone{ws: ws, frames: make(chan wire.Frame, 1024), done: make(chan struct{})}
	go p.read()
	id := map[string]any{"name": "hil-phone", "token": token, "channel": "home", "role": "controller",
		"can_broadcast": true, "can_route": true, "can_monitor": true, "broadcast_scope": "channel"}
	if err := p.send(ctx, "identify", id); err != nil {
		ws.Close()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := p.expect(wctx, "welcome", func(f wire.Frame) bool { return f.Type == "welcome" }); err != nil {
		ws.Close()
		return nil, err
	}
	return p, nil
}

func (p *phone) read() {
	defer close(p.done)
	for {
		_, msg, err := p.ws.ReadMessage()
		if err != nil {
			p.err = err
			return
		}
		f, err := wire.Decode(msg)
		if err != nil {
			continue
		}
		select {
		case p.frames <- f:
		default: // a stuck test must not block the socket; frames are dropped
		}
	}
}

func (p *phone) send(ctx context.Context, typ string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(5 * time.Second)
	}
	_ = p.ws.SetWriteDeadline(dl)
	return p.ws.WriteMessage(websocket.TextMessage, wire.Encode(wire.Frame{ID: wire.NewID(), Type: typ, Payload: b}))
}

// expect returns the first frame matching pred; what says what was awaited.
func (p *phone) expect(ctx context.Context, what string, pred func(wire.Frame) bool) (wire.Frame, error) {
	for {
		select {
		case f := <-p.frames:
			if pred(f) {
				return f, nil
			}
		case <-p.done:
			return wire.Frame{}, fmt.Errorf("waiting for %s: socket closed: %v", what, p.err)
		case <-ctx.Done():
			return wire.Frame{}, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// broadcastPayload decodes a broadcast frame's object payload (nil otherwise).
func broadcastPayload(f wire.Frame) map[string]any {
	if f.Type != "broadcast" {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(f.Payload, &m) != nil {
		return nil
	}
	return m
}

// stateOf matches {"msg_type":"state","target":target,"value":bool}.
func stateOf(f wire.Frame, target string) (bool, bool) {
	m := broadcastPayload(f)
	if m == nil || m["msg_type"] != "state" || m["target"] != target {
		return false, false
	}
	v, ok := m["value"].(bool)
	return v, ok
}

// metric finds a numeric key in a metrics broadcast (top level or one
// object level down, e.g. {"values":{...}}).
func metric(f wire.Frame, key string) (float64, bool) {
	m := broadcastPayload(f)
	if m == nil || m["msg_type"] != "metrics" {
		return 0, false
	}
	if v, ok := m[key].(float64); ok {
		return v, true
	}
	for _, sub := range m {
		if o, ok := sub.(map[string]any); ok {
			if v, ok := o[key].(float64); ok {
				return v, true
			}
		}
	}
	return 0, false
}

// hasNode reports whether a get_nodes reply lists name.
func hasNode(f wire.Frame, name string) bool {
	var r struct {
		Clients []struct {
			Name string `json:"name"`
		} `json:"clients"`
	}
	if json.Unmarshal(f.Payload, &r) != nil {
		return false
	}
	for _, c := range r.Clients {
		if strings.EqualFold(c.Name, name) {
			return true
		}
	}
	return false
}

func (p *phone) close() { _ = p.ws.Close() }

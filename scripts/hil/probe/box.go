package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/host/v3/gpioioctl"

	"github.com/meshbox/meshbox/internal/wire"
)

// box is the probe's miniature relay + bridge: every identified socket gets
// every broadcast; cmd frames switch outputs and are answered with state.
type box struct {
	log      *slog.Logger
	outs     map[string]*gpioioctl.GPIOLine
	exits    map[string]bool
	ins      map[string]*gpioioctl.GPIOLine
	bus      i2c.BusCloser
	addr     uint16
	interval time.Duration

	mu    sync.Mutex
	conns map[*conn]struct{}
}

type conn struct {
	ws *websocket.Conn
	mu sync.Mutex
}

func (c *conn) send(f wire.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, wire.Encode(f))
}

func newBox(logger *slog.Logger, hw *hardware, outs []outSpec, ins []inSpec, bus string, addr uint16, interval time.Duration) (*box, error) {
	b := &box{log: logger, outs: map[string]*gpioioctl.GPIOLine{}, exits: map[string]bool{},
		ins: map[string]*gpioioctl.GPIOLine{}, addr: addr, interval: interval, conns: map[*conn]struct{}{}}
	for _, o := range outs {
		l, err := hw.output(o.line, o.boot)
		if err != nil {
			return nil, err
		}
		b.outs[o.id], b.exits[o.id] = l, o.exit
	}
	for _, in := range ins {
		l, err := hw.input(in.line)
		if err != nil {
			return nil, err
		}
		b.ins[in.id] = l
	}
	if bus != "" {
		bc, err := openBus(bus)
		if err != nil {
			return nil, err
		}
		b.bus = bc
	}
	return b, nil
}

func (b *box) serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(b.handle), ReadHeaderTimeout: 5 * time.Second}
	for id, l := range b.ins {
		levels := make(chan bool, 16)
		go watch(ctx, l, levels)
		go func() {
			for {
				select {
				case v := <-levels:
					b.broadcast(map[string]any{"msg_type": "state", "target": id, "value": v})
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	if b.bus != nil {
		go b.metrics(ctx)
	}
	go func() { _ = srv.Serve(ln) }()
	b.log.Info("probe ready", "listen", ln.Addr().String())
	<-ctx.Done()
	for id, l := range b.outs {
		if err := l.Out(gpio.Level(b.exits[id])); err != nil {
			b.log.Error("exit state", "output", id, "err", err)
		}
	}
	b.log.Info("probe stopped: outputs at exit state")
	b.mu.Lock()
	for c := range b.conns {
		c.mu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "probe stopping"), time.Now().Add(time.Second))
		c.mu.Unlock()
	}
	b.mu.Unlock()
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func (b *box) metrics(ctx context.Context) {
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c, err := tmp105(b.bus, b.addr)
			if err != nil {
				b.log.Warn("sensor", "err", err)
				continue
			}
			b.broadcast(map[string]any{"msg_type": "metrics", "temp": c})
		case <-ctx.Done():
			return
		}
	}
}

func (b *box) broadcast(payload any) {
	p, _ := json.Marshal(payload)
	f := wire.Frame{ID: wire.NewID(), Type: "broadcast", Payload: p}
	b.mu.Lock()
	cs := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		cs = append(cs, c)
	}
	b.mu.Unlock()
	for _, c := range cs {
		if err := c.send(f); err != nil {
			_ = c.ws.Close()
		}
	}
}

func (b *box) handle(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws}
	defer func() {
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
		_ = ws.Close()
	}()
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		f, err := wire.Decode(msg)
		if err != nil {
			continue
		}
		if err := b.frame(c, f); err != nil {
			b.log.Warn("frame", "type", f.Type, "err", err)
		}
	}
}

func (b *box) frame(c *conn, f wire.Frame) error {
	switch f.Type {
	case "identify":
		var id struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(f.Payload, &id)
		p, _ := json.Marshal(map[string]string{"id": wire.NewID(), "name": id.Name})
		if err := c.send(wire.Frame{ID: wire.NewID(), Type: "welcome", Payload: p}); err != nil {
			return err
		}
		b.mu.Lock()
		b.conns[c] = struct{}{}
		b.mu.Unlock()
	case "get_nodes":
		// The probe plays relay and bridge in one: the bridge member is "meshbox".
		p := json.RawMessage(`{"clients":[{"id":"probe","name":"meshbox","channel":"home","role":"hub"}]}`)
		return c.send(wire.Frame{ID: wire.NewID(), Type: f.Type, Payload: p, ReplyTo: f.ID})
	case "broadcast_request":
		b.broadcast(f.Payload)
		if err := c.send(wire.Frame{ID: wire.NewID(), Type: f.Type, Payload: json.RawMessage(`{"status":"sent"}`), ReplyTo: f.ID}); err != nil {
			return err
		}
		return b.command(f.Payload)
	}
	return nil
}

func (b *box) command(payload json.RawMessage) error {
	var cmd struct {
		MsgType string `json:"msg_type"`
		Target  string `json:"target"`
		Value   any    `json:"value"`
	}
	if err := json.Unmarshal(payload, &cmd); err != nil || cmd.MsgType != "cmd" {
		return nil
	}
	l, ok := b.outs[cmd.Target]
	if !ok {
		return fmt.Errorf("unknown output %q", cmd.Target)
	}
	on, ok := cmd.Value.(bool)
	if !ok {
		return errors.New("value must be a bool")
	}
	if err := l.Out(gpio.Level(on)); err != nil {
		return err
	}
	b.broadcast(map[string]any{"msg_type": "state", "target": cmd.Target, "value": on})
	return nil
}

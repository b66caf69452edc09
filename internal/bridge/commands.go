package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// inMsg is a command payload, read leniently (any field may have any type).
type inMsg map[string]json.RawMessage

func (m inMsg) str(k string) string {
	raw, ok := m[k]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func (m inMsg) value() any {
	if raw, ok := m["value"]; ok {
		return raw
	}
	return nil
}

// HandleBroadcast handles the payload of a broadcast frame from the mesh
// synchronously: commands (cmd, set, command) and control_sync_request.
// Anything else (including the bridge's own echoes) is ignored. A member
// of a relay uses the intake instead (Receive), which never waits.
func (b *Bridge) HandleBroadcast(ctx context.Context, payload json.RawMessage) {
	m, mt, ok := parseCommand(payload)
	if !ok {
		return
	}
	switch {
	case mt == "box_announce":
		b.heardAnnounce(m, nil)
	case b.crossing(nil, m, mt, payload):
	case mt == "control_sync_request":
		b.SendSnapshot(m.str("from"))
	default:
		_, err := b.execute(ctx, mt, m, b.offGen.Load())
		b.ack(m, err)
	}
}

// parseCommand decodes a broadcast payload the bridge acts on; ok is false
// for anything else (states, metrics, acks: the bridge's own shapes).
func parseCommand(payload json.RawMessage) (m inMsg, mt string, ok bool) {
	if len(payload) == 0 || payload[0] != '{' {
		return nil, "", false
	}
	if json.Unmarshal(payload, &m) != nil {
		return nil, "", false
	}
	switch mt = m.str("msg_type"); mt {
	case "cmd", "set", "command", "control_sync_request", "sim", "box_announce",
		"state", "metrics", "control_snapshot", "command_ack":
		return m, mt, true
	}
	return nil, "", false
}

// SendSnapshot publishes a control_snapshot addressed to to (may be empty)
// as an EventSnapshot; every member sends it.
func (b *Bridge) SendSnapshot(to string) {
	v, controls := b.linkedSnapshot()
	b.pub.emit(Event{Kind: EventSnapshot, To: to, V: v, Controls: controls})
}

// RoutedTypes lists the routed (route_msg inner) frame types the bridge
// answers; the mesh adapter registers a handler for each.
func (b *Bridge) RoutedTypes() []string {
	ts := []string{"set", "cmd", "command", "get-control-state", "get_state"}
	for _, o := range b.outList {
		ts = append(ts, "set_"+o.cfg.ID)
	}
	return ts
}

// HandleRouted answers a routed frame of type typ. The reply is
// {"ok":true,"target":id,"state":value} or {"ok":false,"error":reason};
// nil for a type the bridge does not handle.
func (b *Bridge) HandleRouted(ctx context.Context, typ string, payload json.RawMessage) any {
	var m inMsg
	if len(payload) > 0 && payload[0] == '{' {
		if json.Unmarshal(payload, &m) != nil {
			return map[string]any{"ok": false, "error": "malformed payload"}
		}
	}
	if m == nil {
		m = inMsg{}
	}
	switch {
	case typ == "get-control-state" || typ == "get_state":
		_, controls := b.Snapshot()
		var ids []string
		if raw, ok := m["ids"]; ok && json.Unmarshal(raw, &ids) == nil && len(ids) > 0 {
			sel := make(map[string]any, len(ids))
			for _, id := range ids {
				if v, ok := controls[id]; ok {
					sel[id] = v
				}
			}
			controls = sel
		}
		return map[string]any{"ok": true, "values": controls}
	case typ == "set" || typ == "cmd" || typ == "command":
	case strings.HasPrefix(typ, "set_"):
		target := strings.TrimPrefix(typ, "set_")
		v := m.value()
		if v == nil {
			if raw, ok := m["target"]; ok {
				v = raw
			} else if len(payload) > 0 && payload[0] != '{' {
				v = payload
			}
		}
		nm := inMsg{"target": mustJSON(target)}
		if v != nil {
			nm["value"] = toRaw(v)
		}
		for _, k := range []string{"_cmd", "_from"} {
			if raw, ok := m[k]; ok {
				nm[k] = raw
			}
		}
		m, typ = nm, "set"
	default:
		return nil
	}
	res, err := b.execute(ctx, typ, m, b.offGen.Load())
	b.ack(m, err)
	if errors.Is(err, errScheduled) {
		err = nil
	}
	if err != nil {
		return map[string]any{"ok": false, "error": err.Error()}
	}
	rep := map[string]any{"ok": true}
	if res.target != "" {
		rep["target"] = res.target
		rep["state"] = res.state
	}
	return rep
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func toRaw(v any) json.RawMessage {
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	return mustJSON(v)
}

// ack logs the outcome of a command from the mesh and answers it when it
// carried _cmd. A scheduled switch-on (errScheduled) is answered when it
// happens or is cancelled.
func (b *Bridge) ack(m inMsg, err error) {
	target := m.str("target")
	if target == "" {
		target = m.str("key")
	}
	if errors.Is(err, errScheduled) {
		return
	}
	b.logOutcome(m.str("_from"), m.str("command"), target, err)
	b.answer(ackTo{cmd: m.str("_cmd"), to: m.str("_from")}, err)
}

// answer counts a command's outcome and publishes its command_ack when it
// carried an id. It only emits an event: safe under an output lock.
func (b *Bridge) answer(a ackTo, err error) {
	if err != nil {
		b.stats.commandsFailed.Add(1)
	} else {
		b.stats.commandsOK.Add(1)
	}
	if a.cmd == "" {
		return
	}
	ev := Event{Kind: EventAck, CmdID: a.cmd, To: a.to, OK: err == nil}
	if err != nil {
		ev.Err = err.Error()
	}
	b.pub.emit(ev)
}

// ackOf is who to answer for m, received in all_off generation gen.
func ackOf(m inMsg, gen uint64) ackTo { return ackTo{cmd: m.str("_cmd"), to: m.str("_from"), gen: gen} }

type result struct {
	target string
	state  any
}

// execute runs one command message (msg_type cmd, set or command).
// gen is the all_off generation the command arrived in: an output change
// it has not made when an all_off comes is refused (all_off goes first).
func (b *Bridge) execute(ctx context.Context, mt string, m inMsg, gen uint64) (result, error) {
	if mt == "command" {
		return b.command(ctx, m, gen)
	}
	if mt == "sim" {
		return result{}, b.sim(m)
	}
	target := m.str("target")
	if target == "" {
		target = m.str("key")
	}
	if target == "" {
		return result{}, fmt.Errorf("%w: missing target", ErrUnknownTarget)
	}
	v, err := b.apply(ctx, target, m.value(), ackOf(m, gen))
	return result{target, v}, err
}

// command runs {"msg_type":"command","command":NAME,...}.
func (b *Bridge) command(ctx context.Context, m inMsg, gen uint64) (result, error) {
	name := m.str("command")
	target := m.str("target")
	switch name {
	case "all_off":
		return result{}, b.AllOff(ctx)
	case "pulse", "toggle", "on", "off":
		o := b.outputs[target]
		if o == nil {
			return result{}, unknownTarget(target)
		}
		var v any
		var err error
		switch name {
		case "pulse":
			if o.kind == outPWM {
				return result{}, fmt.Errorf("%w: pulse needs a switch or momentary output", ErrBadValue)
			}
			d, perr := pulseLength(o, m)
			if perr != nil {
				return result{}, perr
			}
			v, err = b.setOutput(ctx, o, true, d, ackOf(m, gen))
		case "toggle":
			if err := o.dom.lockWithin(ctx, applyWithin); err != nil {
				return result{}, err
			}
			on := o.isOn() || (o.dom.pending != nil && o.dom.pending.o == o)
			o.dom.unlock()
			v, err = b.setOutput(ctx, o, !on, 0, ackOf(m, gen))
		case "on":
			v, err = b.setOutput(ctx, o, true, 0, ackOf(m, gen))
		default:
			v, err = b.setOutput(ctx, o, false, 0, ackOf(m, gen))
		}
		return result{target, v}, err
	}
	// A serial device command.
	if d := b.serials[target]; d != nil {
		return result{}, b.serialCommand(d, name, m.value())
	}
	if target == "" {
		for _, d := range b.serialList {
			if _, ok := d.cfg.Commands[name]; ok {
				return result{}, b.serialCommand(d, name, m.value())
			}
		}
	}
	if name == "" {
		return result{}, fmt.Errorf("%w: missing command", ErrUnknownCmd)
	}
	return result{}, fmt.Errorf("%w: %q", ErrUnknownCmd, name)
}

func unknownTarget(t string) error { return fmt.Errorf("%w: %q", ErrUnknownTarget, t) }

// Apply drives target to value exactly as a phone cmd does (the page and
// MQTT use it): value is a bool, number, or their string forms. It returns
// the control's value afterwards (bool, or percent for PWM). Targets are
// output ids, "<serial id>.<command>" and "<serial id>" with a command name
// as value. from names the requester (logging only).
//
// A refusal is logged once at INFO ("command refused"), a hardware error
// at WARN, both rate-limited per requester.
//
// A switch-on that must wait for an interlock dead time is scheduled: Apply
// returns the value now (off) and no error; the state event follows when it
// switches on (unless a newer command for the group cancels it).
func (b *Bridge) Apply(ctx context.Context, target string, value any, from string) (any, error) {
	if v, err, ok := b.applyExtra(ctx, target, value, from); ok {
		b.logOutcome(from, "", target, err)
		return v, err
	}
	v, err := b.apply(ctx, target, value, ackTo{gen: b.offGen.Load()})
	if errors.Is(err, errScheduled) {
		err = nil
	}
	b.logOutcome(from, "", target, err)
	return v, err
}

// apply is Apply without the log line (commands from the mesh log theirs
// where they are acknowledged); ack is answered by a scheduled switch-on.
func (b *Bridge) apply(ctx context.Context, target string, value any, ack ackTo) (any, error) {
	if b.closing.Load() {
		return nil, ErrClosed
	}
	if o := b.outputs[target]; o != nil {
		return b.setOutput(ctx, o, value, 0, ack)
	}
	if d := b.serials[target]; d != nil {
		name := valueString(value)
		return nil, b.serialCommand(d, name, nil)
	}
	if v, err, ok := b.applyExtra(ctx, target, value, ack.to); ok {
		return v, err
	}
	if i := strings.LastIndexByte(target, '.'); i > 0 {
		if d := b.serials[target[:i]]; d != nil {
			return nil, b.serialCommand(d, target[i+1:], value)
		}
	}
	b.mu.Lock()
	_, known := b.values[target]
	b.mu.Unlock()
	if known {
		return nil, fmt.Errorf("%w: %q", ErrReadOnly, target)
	}
	return nil, unknownTarget(target)
}

// AllOff switches every output off (interlocks and rate limits do not
// apply), publishing each change. It goes ahead of everything: scheduled
// switch-ons and the commands waiting in the intake are cancelled (their
// acks say so).
func (b *Bridge) AllOff(ctx context.Context) error {
	if b.closing.Load() {
		return ErrClosed
	}
	b.offGen.Add(1) // commands received before this one no longer apply
	var errs []error
	for _, o := range b.outList {
		o.dom.lock() // never held long: no sleep happens under it
		b.cancelPendingLocked(o.dom, errAllOff)
		if _, err := b.setLocked(o, o.offValue(), false, 0, ackTo{}); err != nil {
			errs = append(errs, err)
		}
		o.dom.unlock()
	}
	return errors.Join(errs...)
}

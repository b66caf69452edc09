package phonetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
)

// Match is a broadcast filter as the app applies it: every key must be in
// the payload with an equal value (JSON numbers are float64), e.g.
// Match{"msg_type": "state", "target": "lamp"}. A nil value matches a
// missing key.
type Match map[string]any

// Msg is the filter for msg_type mt plus key/value pairs.
func Msg(mt string, kv ...any) Match {
	m := Match{"msg_type": mt}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// Matches reports whether payload passes the filter.
func (m Match) Matches(payload map[string]any) bool {
	for k, want := range m {
		if !reflect.DeepEqual(payload[k], want) {
			return false
		}
	}
	return true
}

// Send sends a frame of type typ with payload (any JSON value; a
// json.RawMessage is sent as it is).
func (p *Phone) Send(typ string, payload any) {
	p.t.Helper()
	if err := p.Write(wire.Frame{ID: wire.NewID(), Type: typ, Payload: mustJSON(p.t, payload)}); err != nil {
		p.t.Fatalf("phone %s: write %s: %v", p.name, typ, err)
	}
}

// Broadcast sends a broadcast_request with payload.
func (p *Phone) Broadcast(payload any) { p.t.Helper(); p.Send("broadcast_request", payload) }

// BroadcastJSON sends a broadcast_request whose payload is the JSON text s.
func (p *Phone) BroadcastJSON(s string) { p.t.Helper(); p.Broadcast(json.RawMessage(s)) }

// Cmd broadcasts the app's cmd for target with value (no acknowledgement
// asked).
func (p *Phone) Cmd(target string, value any) {
	p.t.Helper()
	p.Broadcast(map[string]any{"msg_type": "cmd", "target": target, "value": value})
}

// CmdAck broadcasts a cmd with a command id and the phone's name, as the
// app does when it wants a command_ack.
func (p *Phone) CmdAck(target string, value any, cmdID string) {
	p.t.Helper()
	p.Broadcast(map[string]any{"msg_type": "cmd", "target": target, "value": value, "_cmd": cmdID, "_from": p.name})
}

// Recv returns the next frame of any type, failing the test after d.
func (p *Phone) Recv(d time.Duration) wire.Frame {
	p.t.Helper()
	return p.expect(fmt.Sprintf("any frame within %v", d), d, func(wire.Frame) bool { return true })
}

// Expect returns the next frame of type typ, skipping others, failing the
// test after d.
func (p *Phone) Expect(typ string, d time.Duration) wire.Frame {
	p.t.Helper()
	return p.expect(fmt.Sprintf("%s frame within %v", typ, d), d, func(f wire.Frame) bool { return f.Type == typ })
}

// ExpectBroadcast returns the payload of the next broadcast that passes
// filter, skipping other frames, failing the test after d.
func (p *Phone) ExpectBroadcast(filter Match, d time.Duration) map[string]any {
	p.t.Helper()
	return p.ExpectBroadcastFunc(fmt.Sprintf("broadcast %v", map[string]any(filter)), d, filter.Matches)
}

// ExpectBroadcastFunc is ExpectBroadcast with any predicate; what names it
// in the failure.
func (p *Phone) ExpectBroadcastFunc(what string, d time.Duration, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	var got map[string]any
	p.expect(fmt.Sprintf("%s within %v", what, d), d, func(f wire.Frame) bool {
		if f.Type != "broadcast" {
			return false
		}
		var m map[string]any
		if json.Unmarshal(f.Payload, &m) != nil || !match(m) {
			return false
		}
		got = m
		return true
	})
	return got
}

// ExpectState waits for the state broadcast of target.
func (p *Phone) ExpectState(target string, d time.Duration) map[string]any {
	p.t.Helper()
	return p.ExpectBroadcast(Msg("state", "target", target), d)
}

// ExpectAck waits for the command_ack of cmdID.
func (p *Phone) ExpectAck(cmdID string, d time.Duration) map[string]any {
	p.t.Helper()
	return p.ExpectBroadcast(Msg("command_ack", "cmd_id", cmdID), d)
}

func (p *Phone) expect(what string, d time.Duration, match func(wire.Frame) bool) wire.Frame {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		f, err := p.Next(ctx)
		if err != nil {
			p.t.Fatalf("phone %s: no %s: %v", p.name, what, err)
			return wire.Frame{}
		}
		if match(f) {
			return f
		}
	}
}

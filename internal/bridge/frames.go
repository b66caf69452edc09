package bridge

import (
	"encoding/json"
	"slices"
	"strings"
)

// Frame payloads the bridge broadcasts (see the package doc).
type stateMsg struct {
	MsgType string `json:"msg_type"`
	Target  string `json:"target"`
	Value   any    `json:"value"`
}

type inputMsg struct {
	MsgType string `json:"msg_type"`
	Target  string `json:"target"`
	Edge    string `json:"edge"`
}

type errorMsg struct {
	MsgType string `json:"msg_type"`
	Source  string `json:"source"`
	Error   string `json:"error"`
	RetryMS int64  `json:"retry_ms"`
}

type ackMsg struct {
	MsgType string `json:"msg_type"`
	CmdID   string `json:"cmd_id"`
	To      string `json:"to,omitempty"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

type snapshotMsg struct {
	MsgType  string         `json:"msg_type"`
	To       string         `json:"to,omitempty"`
	V        uint64         `json:"v"`
	Controls map[string]any `json:"controls"`
}

// Frame returns the broadcast payload (JSON) that carries ev on the mesh,
// with every control id prefixed by prefix ("" for none; an upstream link
// uses "<name>."). ok is false for events that are not sent: the states and edges of inputs configured with broadcast "none"
// (edges only with broadcast "event").
func (b *Bridge) Frame(ev Event, prefix string) (payload json.RawMessage, ok bool) {
	var v any
	switch ev.Kind {
	case EventState:
		if b.quiet[ev.ID] {
			return nil, false
		}
		v = stateMsg{"state", prefix + ev.ID, ev.Value}
	case EventInput:
		if !b.edges[ev.ID] {
			return nil, false
		}
		v = inputMsg{"input", prefix + ev.ID, ev.Edge}
	case EventMetrics:
		m := make(map[string]any, len(ev.Fields)+3)
		m["msg_type"] = "metrics"
		m["source"] = prefix + ev.Source
		for k, x := range ev.Fields {
			m[prefix+k] = x
		}
		if strings.Contains(prefix, ".") {
			// A layout's valuePath is a dot path (§14.5): "garage.temp"
			// walks frame.garage.temp and never reaches the flat key. The
			// fields are also nested along the prefix so the prefixed id
			// is a path that works ({"garage":{"temp":21.5}}).
			for k, x := range ev.Fields {
				setPath(m, strings.Split(prefix+k, "."), x)
			}
		}
		v = m
	case EventSensorError:
		v = errorMsg{"sensor_error", prefix + ev.Source, ev.Err, ev.RetryMs}
	case EventSnapshot:
		v = snapshotMsg{"control_snapshot", ev.To, ev.V, prefixKeys(ev.Controls, prefix)}
	case EventAck:
		v = ackMsg{"command_ack", ev.CmdID, ev.To, ev.OK, ev.Err}
	case EventNotify:
		v = notifyMsg{"notify", prefix + ev.Source, ev.Text}
	case EventLinked:
		// Only on the hub's own relay (no prefix): a linked box's member
		// never speaks for the hub.
		if prefix != "" {
			return nil, false
		}
		if v, ok = b.hubFrame(b.Name()); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	raw, err := json.Marshal(v)
	if err != nil {
		b.log.Error("encode frame", "kind", ev.Kind.String(), "err", err)
		return nil, false
	}
	return raw, true
}

// prefixKeys returns m with every key prefixed (m itself when prefix is "").
func prefixKeys(m map[string]any, prefix string) map[string]any {
	if prefix == "" || m == nil {
		return m
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[prefix+k] = v
	}
	return out
}

// setPath sets m[path[0]][path[1]]…= v, creating the objects on the way;
// empty segments are dropped (as a valuePath walk does). A segment already
// holding something else than an object (msg_type, source, a flat field)
// is left alone: that path is not set.
func setPath(m map[string]any, path []string, v any) {
	path = slices.DeleteFunc(path, func(s string) bool { return s == "" })
	if len(path) < 2 {
		return
	}
	for _, seg := range path[:len(path)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			if _, taken := m[seg]; taken {
				return
			}
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	if _, taken := m[path[len(path)-1]]; !taken {
		m[path[len(path)-1]] = v
	}
}

package bridge

import "encoding/json"

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
		m := make(map[string]any, len(ev.Fields)+2)
		for k, x := range ev.Fields {
			m[prefix+k] = x
		}
		m["msg_type"] = "metrics"
		m["source"] = prefix + ev.Source
		v = m
	case EventSensorError:
		v = errorMsg{"sensor_error", prefix + ev.Source, ev.Err, ev.RetryMs}
	case EventSnapshot:
		v = snapshotMsg{"control_snapshot", ev.To, ev.V, prefixKeys(ev.Controls, prefix)}
	case EventAck:
		v = ackMsg{"command_ack", ev.CmdID, ev.To, ev.OK, ev.Err}
	case EventNotify:
		v = notifyMsg{"notify", prefix + ev.Source, ev.Text}
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

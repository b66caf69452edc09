package links

import (
	"encoding/json"
	"strings"

	"github.com/meshbox/meshbox/internal/wire"
)

// namespace rewrites the frames that come in on one upstream link (see
// the package doc): prefixed command targets are stripped, commands for
// other boxes and broadcasts the bridge never acts on are dropped before
// they reach the client's handler queue. What the bridge sends is
// prefixed by its member (bridge.JoinOptions.Prefix), from the events.
type namespace struct {
	prefix string // "<name>." or ""
	name   string // prefix without the dot
}

func newNamespace(prefix string) *namespace {
	return &namespace{prefix: prefix, name: strings.TrimSuffix(prefix, ".")}
}

// routedTypes are the routed frame types the bridge answers (plus set_<id>).
func isRoutedType(t string) bool {
	switch t {
	case "set", "cmd", "command", "get-control-state", "get_state":
		return true
	}
	return strings.HasPrefix(t, "set_")
}

type object = map[string]json.RawMessage

func str(o object, k string) (string, bool) {
	raw, ok := o[k]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func quote(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// inbound rewrites a frame from upstream before the client sees it; keep
// is false for a command meant for another box and for broadcasts the
// bridge does not act on (its own echoes, other boxes' states, metrics).
func (n *namespace) inbound(msg []byte) (out []byte, keep bool) {
	f, err := wire.Decode(msg)
	if err != nil {
		return msg, true // the client answers malformed frames itself
	}
	var o object
	isObj := len(f.Payload) > 0 && f.Payload[0] == '{' && json.Unmarshal(f.Payload, &o) == nil && o != nil
	switch {
	case f.Type == "broadcast":
		mt := ""
		if isObj {
			mt, _ = str(o, "msg_type")
		}
		switch mt {
		case "cmd", "set", "command":
		case "control_sync_request":
			return msg, true
		default:
			return nil, false // not for the bridge: skip it before the handler queue
		}
		if n.prefix == "" {
			return msg, true
		}
		if !n.inCommand(o, mt, false) {
			return nil, false
		}
	case n.prefix == "":
		return msg, true
	case f.ReplyTo == "" && isRoutedType(f.Type):
		// Addressed to this box alone: a prefix is optional.
		if t, ok := strings.CutPrefix(f.Type, "set_"+n.prefix); ok {
			f.Type = "set_" + t
		}
		if isObj {
			n.inCommand(o, f.Type, true)
			n.stripIDs(o)
		}
	default:
		return msg, true
	}
	if isObj {
		p, err := json.Marshal(o)
		if err != nil {
			return nil, false
		}
		f.Payload = p
	}
	return wire.Encode(f), true
}

// inCommand strips the prefix from a command's target. A broadcast command
// (routed false) must name this box: a prefixed target, "target":"<name>"
// (removed, for target-less commands), or no target for all_off only.
func (n *namespace) inCommand(o object, mt string, routed bool) bool {
	key := "target"
	if _, ok := o[key]; !ok && mt == "set" {
		if _, ok := o["key"]; ok {
			key = "key"
		}
	}
	t, has := str(o, key)
	switch {
	case has && strings.HasPrefix(t, n.prefix):
		o[key] = quote(strings.TrimPrefix(t, n.prefix))
		return true
	case has && t == n.name && mt == "command":
		delete(o, key)
		return true
	case routed:
		return true
	case !has && mt == "command":
		c, _ := str(o, "command")
		return c == "all_off"
	}
	return false
}

// stripIDs removes the prefix from get_state's "ids".
func (n *namespace) stripIDs(o object) {
	var ids []string
	if raw, ok := o["ids"]; !ok || json.Unmarshal(raw, &ids) != nil {
		return
	}
	for i, id := range ids {
		ids[i] = strings.TrimPrefix(id, n.prefix)
	}
	o["ids"], _ = json.Marshal(ids)
}

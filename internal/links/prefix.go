package links

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/meshbox/meshbox/internal/wire"
)

// namespace rewrites control ids on one upstream link (see the package
// doc). The zero prefix passes everything through. It keeps the ids of
// routed requests in flight so their replies are rewritten too.
type namespace struct {
	prefix string // "<name>." or ""
	name   string // prefix without the dot

	mu     sync.Mutex
	routed map[string]struct{} // guarded by mu
}

// maxRouted bounds the routed requests remembered (replies to older ones
// go out unprefixed: harmless).
const maxRouted = 256

func newNamespace(prefix string) *namespace {
	return &namespace{prefix: prefix, name: strings.TrimSuffix(prefix, "."), routed: map[string]struct{}{}}
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

// outbound rewrites a frame the bridge sends upstream.
func (n *namespace) outbound(msg []byte) []byte {
	if n.prefix == "" {
		return msg
	}
	f, err := wire.Decode(msg)
	if err != nil || len(f.Payload) == 0 || f.Payload[0] != '{' {
		return msg
	}
	var o object
	if json.Unmarshal(f.Payload, &o) != nil {
		return msg
	}
	switch {
	case f.Type == "broadcast_request":
		if !n.outPayload(o) {
			return msg
		}
	case f.ReplyTo != "" && n.takeRouted(f.ReplyTo):
		if !n.outReply(o) {
			return msg
		}
	default:
		return msg
	}
	p, err := json.Marshal(o)
	if err != nil {
		return msg
	}
	f.Payload = p
	return wire.Encode(f)
}

func (n *namespace) prefixed(o object, k string) bool {
	s, ok := str(o, k)
	if !ok || s == "" {
		return false
	}
	o[k] = quote(n.prefix + s)
	return true
}

// outPayload prefixes the ids in a broadcast payload; false when nothing
// changed.
func (n *namespace) outPayload(o object) bool {
	mt, _ := str(o, "msg_type")
	switch mt {
	case "state", "input":
		return n.prefixed(o, "target")
	case "sensor_error":
		return n.prefixed(o, "source")
	case "metrics":
		n.prefixed(o, "source")
		for k, v := range o {
			if k != "msg_type" && k != "source" && !strings.HasPrefix(k, n.prefix) {
				delete(o, k)
				o[n.prefix+k] = v
			}
		}
		return true
	case "control_snapshot":
		return n.prefixKeys(o, "controls")
	}
	return false
}

// outReply prefixes the ids in a routed reply ({"ok","target","state"} or
// {"ok","values"}).
func (n *namespace) outReply(o object) bool {
	a := n.prefixed(o, "target")
	b := n.prefixKeys(o, "values")
	return a || b
}

func (n *namespace) prefixKeys(o object, field string) bool {
	var m object
	if raw, ok := o[field]; !ok || json.Unmarshal(raw, &m) != nil || m == nil {
		return false
	}
	pm := make(object, len(m))
	for k, v := range m {
		pm[n.prefix+k] = v
	}
	b, err := json.Marshal(pm)
	if err != nil {
		return false
	}
	o[field] = b
	return true
}

func (n *namespace) takeRouted(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.routed[id]; ok {
		delete(n.routed, id)
		return true
	}
	return false
}

func (n *namespace) rememberRouted(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.routed) >= maxRouted {
		clear(n.routed)
	}
	n.routed[id] = struct{}{}
}

// inbound rewrites a frame from upstream before the client sees it; keep
// is false for a command meant for another box.
func (n *namespace) inbound(msg []byte) (out []byte, keep bool) {
	if n.prefix == "" {
		return msg, true
	}
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
		default:
			return msg, true // not a command: the bridge only reads it
		}
		if !n.inCommand(o, mt, false) {
			return nil, false
		}
	case f.ReplyTo == "" && isRoutedType(f.Type):
		// Addressed to this box alone: a prefix is optional.
		if f.ID != "" {
			n.rememberRouted(f.ID)
		}
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

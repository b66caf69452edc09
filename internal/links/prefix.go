package links

import (
	"encoding/json"
	"strings"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/e2ee"
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
	sealed bool   // an encrypted room: envelopes pass to the link's cipher
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
// In an encrypted room (sealed) an envelope passes as it is: the link's
// cipher applies the same rules to its plaintext (sealedCipher).
func (n *namespace) inbound(msg []byte) (out []byte, keep bool) {
	f, err := wire.Decode(msg)
	if err != nil {
		return msg, true // the client answers malformed frames itself
	}
	switch {
	case f.Type == "broadcast":
	case n.prefix == "":
		return msg, true
	case f.ReplyTo == "" && isRoutedType(f.Type):
		// Addressed to this box alone: a prefix is optional.
		if t, ok := strings.CutPrefix(f.Type, "set_"+n.prefix); ok {
			f.Type = "set_" + t
		}
	default:
		return msg, true
	}
	if !(n.sealed && e2ee.IsEnvelope(f.Payload)) {
		p, ok := n.payload(f.Type, f.Payload)
		if !ok {
			return nil, false // not for the bridge: skip it before the handler queue
		}
		f.Payload = p
	}
	return wire.Encode(f), true
}

// payload applies the link's rules to the payload of a broadcast (typ
// "broadcast") or of a routed command (typ its frame type): keep is false
// when the bridge must not see it.
func (n *namespace) payload(typ string, p json.RawMessage) (out json.RawMessage, keep bool) {
	var o object
	isObj := len(p) > 0 && p[0] == '{' && json.Unmarshal(p, &o) == nil && o != nil
	if typ == "broadcast" {
		mt := ""
		if isObj {
			mt, _ = str(o, "msg_type")
		}
		switch mt {
		case "cmd", "set", "command":
		case "control_sync_request", "box_hub": // box_hub: the member's own (bridge.Member.hubbed)
			return p, true
		case "box_announce", "state", "metrics", "command_ack", "control_snapshot":
			// A box that joins with plain ids is the hub on that relay: it
			// hears the boxes linked there (bridge relayed.go). A prefixed
			// link is one box among others: not its business.
			if n.prefix == "" {
				return p, true
			}
			return nil, false
		default:
			return nil, false
		}
		if n.prefix == "" {
			return p, true
		}
		if !n.inCommand(o, mt, false) {
			return nil, false
		}
	} else {
		if n.prefix == "" || !isObj || !isRoutedType(typ) {
			return p, true
		}
		n.inCommand(o, typ, true)
		n.stripIDs(o)
	}
	out, err := json.Marshal(o)
	if err != nil {
		return nil, false
	}
	return out, true
}

// sealedCipher is an upstream link's cipher in an encrypted room: the
// box's codec opens, then the link's rules apply to the plaintext.
type sealedCipher struct {
	bridge.Cipher
	ns *namespace
}

func (c sealedCipher) Open(what string, raw json.RawMessage) (json.RawMessage, bool) {
	pt, ok := c.Cipher.Open(what, raw)
	if !ok {
		return nil, false
	}
	return c.ns.payload(what, pt)
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

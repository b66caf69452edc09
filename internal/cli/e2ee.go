package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/meshbox/meshbox/internal/e2ee"
)

// room is the CLI's membership of an encrypted room (nil: clear text).
type room struct{ r *e2ee.Room }

// room returns the room for --key (else $MESH_E2EE_KEY): a base64 key, or
// the path of a key file (the box's e2ee.key, readable by its owner).
func (c *common) room(env IO) (*room, error) {
	v := c.key
	if v == "" && env.Getenv != nil {
		v = env.Getenv("MESH_E2EE_KEY")
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	k, err := e2ee.ParseKey(v)
	if err != nil {
		b, ferr := os.ReadFile(v)
		switch {
		case ferr == nil:
			if k, err = e2ee.ParseKey(string(b)); err != nil {
				return nil, fmt.Errorf("--key: %s: %w", v, err)
			}
		case errors.Is(ferr, os.ErrPermission):
			return nil, fmt.Errorf("--key: %w (the box's key file is readable by its owner only: run as that user, or pass the key)", ferr)
		case errors.Is(ferr, os.ErrNotExist):
			return nil, usagef("--key: neither a base64 room key (32 bytes) nor a key file")
		default:
			return nil, fmt.Errorf("--key: %w", ferr)
		}
	}
	r, err := e2ee.NewRoom(k, nil, e2ee.OpenerOptions{})
	if err != nil {
		return nil, err
	}
	return &room{r: r}, nil
}

// seal seals what a frame of type typ carries to other members: the whole
// payload of a broadcast_request, the inner payload of a routed frame.
// Relay verbs (ping, get_nodes, …) stay clear.
func (r *room) seal(typ string, payload json.RawMessage) (json.RawMessage, error) {
	if r == nil || payload == nil {
		return payload, nil
	}
	switch typ {
	case "broadcast_request", "broadcast_message", "broadcast_json":
		return r.r.SealJSON(payload)
	case "route_msg", "route_msg_noreply":
		var m map[string]json.RawMessage
		if json.Unmarshal(payload, &m) != nil || m == nil {
			return payload, nil
		}
		inner, ok := m["payload"]
		if !ok || string(inner) == "null" {
			return payload, nil
		}
		sealed, err := r.r.SealJSON(inner)
		if err != nil {
			return nil, err
		}
		m["payload"] = sealed
		return json.Marshal(m)
	}
	return payload, nil
}

// open returns the plaintext of an envelope (ok false: not one, or it does
// not open with the key).
func (r *room) open(payload json.RawMessage) (json.RawMessage, bool) {
	if r == nil || !e2ee.IsEnvelope(payload) {
		return nil, false
	}
	pt, err := r.r.Open(payload)
	return pt, err == nil
}

package phonetest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/wire"
)

// SealedBroadcast broadcasts payload sealed in room r (an encrypted room,
// as the app does with a layout's e2eeKey).
func (p *Phone) SealedBroadcast(r *e2ee.Room, payload any) {
	p.t.Helper()
	env, err := r.SealJSON(payload)
	if err != nil {
		p.t.Fatalf("phone %s: seal: %v", p.name, err)
	}
	p.Send("broadcast_request", env)
}

// SealedCmd broadcasts a sealed cmd with a command id, like the app in an
// encrypted room with acks on.
func (p *Phone) SealedCmd(r *e2ee.Room, target string, value any, cmdID string) {
	p.t.Helper()
	p.SealedBroadcast(r, map[string]any{"msg_type": "cmd", "target": target, "value": value, "_cmd": cmdID, "_from": p.name})
}

// ExpectSealed returns the opened payload of the next broadcast that opens
// in r and passes match, skipping other frames (plaintext ones too),
// failing the test after d.
func (p *Phone) ExpectSealed(r *e2ee.Room, filter Match, d time.Duration) map[string]any {
	p.t.Helper()
	var got map[string]any
	p.expect(fmt.Sprintf("sealed broadcast %v within %v", map[string]any(filter), d), d, func(f wire.Frame) bool {
		if f.Type != "broadcast" {
			return false
		}
		pt, err := r.Open(f.Payload)
		if err != nil {
			return false
		}
		var m map[string]any
		if json.Unmarshal(pt, &m) != nil || !filter.Matches(m) {
			return false
		}
		got = m
		return true
	})
	return got
}

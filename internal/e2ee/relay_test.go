package e2ee_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/relay"
)

// TestRelayForwardsEnvelopesOpaquely: the embedded relay forwards a sealed
// broadcast_request payload (no msg_type) and a sealed routed payload
// untouched, over real WebSockets.
func TestRelayForwardsEnvelopesOpaquely(t *testing.T) {
	const tok = "relay-e2ee-token"
	srv := relay.New(relay.Config{AuthToken: tok}, nil)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close(context.Background())
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/"
	key, _ := e2ee.GenerateKey(nil)
	a, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
	b, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})

	sender := phonetest.Dial(t, url, phonetest.Options{Name: "phone-a", Token: tok, Channel: "home", Role: "controller",
		Flags: map[string]any{"can_broadcast": true, "can_route": true}})
	receiver := phonetest.Dial(t, url, phonetest.Options{Name: "phone-b", Token: tok, Channel: "home", Role: "controller"})
	sender.SealedBroadcast(a, map[string]any{"msg_type": "cmd", "target": "lamp", "value": true})
	got := receiver.ExpectSealed(b, phonetest.Msg("cmd", "target", "lamp"), 10*time.Second)
	if got["value"] != true {
		t.Fatalf("opened %v", got)
	}

	env, _ := a.SealJSON(map[string]any{"target": "lamp", "value": false})
	sender.Send("route_msg_noreply", map[string]any{"target_name": "phone-b", "type": "set", "payload": env})
	f := receiver.Expect("set", 10*time.Second)
	if !e2ee.IsEnvelope(f.Payload) {
		t.Fatalf("routed payload changed: %s", f.Payload)
	}
	if pt, err := b.Open(f.Payload); err != nil || string(pt) != `{"target":"lamp","value":false}` {
		t.Fatalf("routed envelope: %s %v", pt, err)
	}
}

package layout

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/wire"
)

// routeAllowed joins a real relay (through its in-process pipe, the same
// state machine as a WebSocket) with the identify a phone builds from the
// layout's connection block (camelCase flags sent as snake_case), then
// routes a frame to itself: it reports whether the relay let it route.
func routeAllowed(t *testing.T, rcfg relay.Config, c *Connection) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rcfg.AuthToken = *c.Token
	rs := relay.New(rcfg, slog.New(slog.DiscardHandler))
	defer func() { _ = rs.Close(context.Background()) }()
	tr, err := rs.Pipe(ctx, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	send := func(typ string, payload any) {
		b, _ := json.Marshal(payload)
		if err := tr.WriteMessage(ctx, wire.Encode(wire.Frame{ID: wire.NewID(), Type: typ, Payload: b})); err != nil {
			t.Fatal(err)
		}
	}
	send("identify", map[string]any{"name": "phone", "token": *c.Token, "channel": c.Identity.Channel,
		"role": c.Identity.Role, "can_broadcast": c.Identity.CanBroadcast, "can_route": c.Identity.CanRoute})
	send("route_msg_noreply", map[string]any{"target_name": "phone", "type": "probe", "payload": 1})
	for {
		b, err := tr.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("no answer to the routed probe: %v", err)
		}
		f, err := wire.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case f.Type == "probe":
			return true
		case strings.Contains(string(f.Payload), "routing not allowed"):
			return false
		}
	}
}

// TestIdentityMatchesRelayGrants: the layout's identity flags are what the
// relay grants the role — a controller may route by default (§5), so a
// phone that sends the layout's flags keeps that right; a config that takes
// routing away from controllers is reflected too.
func TestIdentityMatchesRelayGrants(t *testing.T) {
	cfg := config.Demo()
	l, err := Generate(cfg, Options{URL: "ws://192.168.1.50:8765", Token: "identity-token"})
	if err != nil {
		t.Fatal(err)
	}
	id := l.Connection.Identity
	if id.Role != "controller" || !id.CanBroadcast || !id.CanRoute {
		t.Fatalf("controller identity %+v: the relay grants broadcast and route", id)
	}
	if !routeAllowed(t, cfg.Relay, l.Connection) {
		t.Fatal("a phone using the layout's identity cannot route")
	}

	cfg.Relay.RouteRoles = []string{"hub"}
	l, err = Generate(cfg, Options{URL: "ws://192.168.1.50:8765", Token: "identity-token"})
	if err != nil {
		t.Fatal(err)
	}
	if id := l.Connection.Identity; id.CanRoute || !id.CanBroadcast {
		t.Fatalf("route_roles [hub]: identity %+v", id)
	}
	if routeAllowed(t, cfg.Relay, l.Connection) {
		t.Fatal("route_roles [hub] still lets a controller route")
	}

	// Another role: its own defaults (a viewer is not in the §5 sets).
	l, err = Generate(config.Demo(), Options{URL: "ws://h:1", Token: "x", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	if id := l.Connection.Identity; id.CanRoute || id.CanBroadcast {
		t.Fatalf("viewer identity %+v", id)
	}
}

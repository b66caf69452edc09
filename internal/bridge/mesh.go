package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/meshbox/meshbox/internal/wire"
	"github.com/meshbox/meshbox/meshsocket"
)

// JoinOptions says how the bridge joins a relay.
type JoinOptions struct {
	// Dial opens a transport (the embedded relay's Pipe). Without Dial,
	// URL is dialled as a WebSocket (an upstream relay).
	Dial func(ctx context.Context) (wire.Transport, error)
	URL  string
	// Name and Channel default to the config's (then "meshbox", "home").
	Name    string
	Channel string
	Token   string
	Logger  *slog.Logger
	// Client adjusts the meshsocket options before the client is built
	// (TLS, backoff); may be nil.
	Client func(*meshsocket.Options)
}

// Join connects the bridge to a relay as a MeshSocket member (role hub,
// broadcast, route and monitor rights, broadcast_scope "channel"),
// registers its handlers, attaches it as a Mesh and starts it in the
// background. After every admission it broadcasts a control_snapshot, so
// state reaches a relay joined late or re-joined. Frames are handled one at
// a time, in order. Start waits for the first admission until ctx is done;
// a failure there is logged and retried in the background. Close the
// returned Member to leave.
func (b *Bridge) Join(ctx context.Context, jo JoinOptions) (*Member, error) {
	name, channel := jo.Name, jo.Channel
	if name == "" {
		name = b.cfg.Name
	}
	if name == "" {
		name = "meshbox"
	}
	if channel == "" {
		channel = b.cfg.Channel
	}
	if channel == "" {
		channel = "home"
	}
	log := jo.Logger
	if log == nil {
		log = b.log
	}
	opts := meshsocket.Options{
		URL:            jo.URL,
		Dial:           jo.Dial,
		Name:           name,
		Token:          jo.Token,
		Channel:        channel,
		Role:           "hub",
		BroadcastScope: "channel",
		CanBroadcast:   meshsocket.Bool(true),
		CanRoute:       meshsocket.Bool(true),
		CanMonitor:     meshsocket.Bool(true),
		MaxInflight:    1,
		Logger:         log,
		OnConnect: func(id string) {
			log.Info("bridge joined the mesh", "name", name, "channel", channel, "id", id)
			go b.SendSnapshot(b.base, "")
		},
	}
	if jo.Client != nil {
		jo.Client(&opts)
	}
	c, err := meshsocket.New(opts)
	if err != nil {
		return nil, fmt.Errorf("bridge: join: %w", err)
	}
	c.On("broadcast", func(ctx context.Context, f wire.Frame) (any, error) {
		b.HandleBroadcast(ctx, f.Payload)
		return nil, nil
	})
	for _, t := range b.RoutedTypes() {
		c.On(t, func(ctx context.Context, f wire.Frame) (any, error) {
			if r := b.HandleRouted(ctx, t, f.Payload); r != nil {
				return r, nil
			}
			return nil, nil
		})
	}
	m := &Member{Client: c, detach: b.Attach(clientMesh{c})}
	if err := c.Start(ctx); err != nil {
		log.Warn("bridge: not admitted yet; retrying in the background", "err", err)
	}
	return m, nil
}

// Member is the bridge's membership in one relay.
type Member struct {
	*meshsocket.Client
	detach func()
}

// Close detaches the member from the bridge and closes the client.
func (m *Member) Close() error {
	m.detach()
	return m.Client.Close()
}

// clientMesh is a Mesh over a meshsocket client.
type clientMesh struct{ c *meshsocket.Client }

func (m clientMesh) Broadcast(ctx context.Context, payload any) error {
	if raw, ok := payload.(json.RawMessage); ok {
		return m.c.Send(ctx, "broadcast_request", raw)
	}
	return m.c.Send(ctx, "broadcast_request", payload)
}

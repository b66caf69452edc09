package meshsocket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/wire"
)

// meshboxRelays lists meshbox's own relay (internal/relay), run over real
// loopback WebSockets like any other relay.
func meshboxRelays() []relayImpl {
	return []relayImpl{{
		name: "meshbox",
		new: func(t *testing.T, token string) (http.Handler, func()) {
			s := relay.New(relay.Config{AuthToken: token}, slog.New(slog.DiscardHandler))
			return s, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := s.Close(ctx); err != nil {
					t.Errorf("relay close: %v", err)
				}
			}
		},
	}}
}

// TestOverRelayPipe runs the client over the relay's in-process pipe (as
// the bridge does) next to a WebSocket client: identify, request/reply,
// routing both ways, broadcast fan-out.
func TestOverRelayPipe(t *testing.T) {
	s := relay.New(relay.Config{AuthToken: testToken}, slog.New(slog.DiscardHandler))
	r := startRelay(t, relayImpl{name: "meshbox", new: func(*testing.T, string) (http.Handler, func()) {
		return s, func() { _ = s.Close(context.Background()) }
	}}, testToken)
	po := fastOpts("", "bridge")
	po.Role, po.Channel, po.BroadcastScope, po.CanMonitor = "hub", "test", "channel", Bool(true)
	po.Dial = func(ctx context.Context) (wire.Transport, error) { return s.Pipe(ctx, "pipe") }
	hub := startClient(t, po)
	phone := startClient(t, fastOpts(r.url(), "phone"))
	hub.On("get_state", func(context.Context, Frame) (any, error) { return map[string]bool{"relay1": true}, nil })
	phone.On("get-device-info", func(context.Context, Frame) (any, error) { return map[string]string{"model": "test"}, nil })
	got := make(chan string, 4)
	phone.On("broadcast", func(_ context.Context, f Frame) (any, error) { got <- string(f.Payload); return nil, nil })
	ctx := ctxT(t, 10*time.Second)

	if out, err := hub.Request(ctx, "ping", nil); err != nil || string(out) != `"pong"` {
		t.Fatalf("pipe ping = %s, %v", out, err)
	}
	if out, err := phone.Route(ctx, hub.ID(), "get_state", nil); err != nil || string(out) != `{"relay1":true}` {
		t.Fatalf("phone → hub = %s, %v", out, err)
	}
	if out, err := hub.Route(ctx, phone.ID(), "get-device-info", nil); err != nil || string(out) != `{"model":"test"}` {
		t.Fatalf("hub → phone = %s, %v", out, err)
	}
	if err := hub.Broadcast(ctx, map[string]string{"msg_type": "state", "target": "relay1"}); err != nil {
		t.Fatal(err)
	}
	if p := recv(t, got, "broadcast from the pipe"); p != `{"msg_type":"state","target":"relay1"}` {
		t.Fatalf("phone got %s", p)
	}
	nodes, err := hub.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].Name != "phone" {
		t.Fatalf("roster = %+v, %v", nodes, err)
	}
}

// TestReplayPacedUnderRateLimit: meshbox's relay closes a connection that
// sends more than RateLimit frames in a second (1008). The paced replay
// delivers a backlog larger than that; the unpaced one trips the limit.
func TestReplayPacedUnderRateLimit(t *testing.T) {
	impl := relayImpl{name: "meshbox-rate5", new: func(t *testing.T, token string) (http.Handler, func()) {
		s := relay.New(relay.Config{AuthToken: token, RateLimit: 5}, slog.New(slog.DiscardHandler))
		return s, func() { _ = s.Close(context.Background()) }
	}}
	r := startRelay(t, impl, testToken)
	for _, tc := range []struct {
		name     string
		rate     int
		wantTrip bool
	}{{"paced", 3, false}, {"unpaced", -1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			rx := startClient(t, fastOpts(r.url(), "rx-"+tc.name))
			got := make(chan string, 16)
			rx.On("broadcast", func(_ context.Context, f Frame) (any, error) { got <- string(f.Payload); return nil, nil })
			downs := make(chan error, 4)
			o := fastOpts(r.url(), "tx-"+tc.name)
			o.MaxOfflineBuffer = 10
			o.ReplayRate = tc.rate
			o.OnDisconnect = func(err error) { downs <- err }
			tx, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			const n = 5
			for i := range n {
				if err := tx.Broadcast(context.Background(), map[string]int{"seq": i}); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Start(ctxT(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			if tc.wantTrip {
				err := recv(t, downs, "rate-limit close")
				var ce *wire.CloseError
				if !errors.As(err, &ce) || ce.Code != 1008 {
					t.Fatalf("unpaced replay ended with %v; want close 1008", err)
				}
				return
			}
			for i := range n {
				if p := recv(t, got, "paced replay"); p != fmt.Sprintf(`{"seq":%d}`, i) {
					t.Fatalf("frame %d = %s", i, p)
				}
			}
			select {
			case err := <-downs:
				t.Fatalf("paced replay was disconnected: %v", err)
			default:
			}
		})
	}
}

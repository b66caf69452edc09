package layout

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/meshsocket"
)

// TestPusherEncryptedRoom: in an encrypted room the apply-layout payload
// crosses the relay as an envelope (neither the token nor the room key in
// clear), a room member opens it to the layout whose connection carries
// e2eeKey + mode "room", and its sealed reply is read.
func TestPusherEncryptedRoom(t *testing.T) {
	srv := relay.New(relay.Config{AuthToken: pushToken, RouteTimeout: 2 * time.Second}, nil)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close(context.Background())
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/"
	key, err := e2ee.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	box, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
	phoneRoom, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bc, err := meshsocket.New(meshsocket.Options{URL: url, Name: "meshbox", Token: pushToken, Channel: "home",
		Role: "hub", BroadcastScope: "channel", CanBroadcast: meshsocket.Bool(true), CanRoute: meshsocket.Bool(true),
		CanMonitor: meshsocket.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	if err := bc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := Generate(config.Demo(), Options{URL: url, Token: pushToken, E2EEKey: key.String()})
	if err != nil {
		t.Fatal(err)
	}
	if l.Connection.Mode != "room" || l.Connection.E2EEKey == nil || *l.Connection.E2EEKey != key.String() {
		t.Fatalf("connection %+v", l.Connection)
	}
	if c := l.WithoutToken().Connection; c.E2EEKey != nil || c.Token != nil || c.Mode != "" {
		t.Fatalf("WithoutToken keeps secrets: %+v", c)
	}
	res := &results{}
	p := NewPusher(PushOptions{
		Client: bc, Self: "meshbox", Channel: "home", Layout: func() *Layout { return l },
		Interval: 30 * time.Millisecond, Timeout: 4 * time.Second, Logger: slog.New(slog.DiscardHandler), OnResult: res.add,
		Seal: box.SealJSON,
		Open: func(raw json.RawMessage) (json.RawMessage, error) {
			pt, err := box.Open(raw)
			if errors.Is(err, e2ee.ErrNotEnvelope) {
				return raw, nil
			}
			return pt, err
		},
	})
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = p.Run(ctx) }()

	ph := phonetest.Dial(t, url, phonetest.Options{Name: "phone-sealed", Channel: "home", Role: "controller", Token: pushToken})
	defer ph.Close()
	var wire json.RawMessage
	for wire == nil {
		f, err := ph.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == "apply-layout" {
			wire = f.Payload
			pt, err := phoneRoom.Open(f.Payload)
			if err != nil {
				t.Fatalf("phone cannot open the pushed layout: %v: %s", err, f.Payload)
			}
			var got Layout
			if err := json.Unmarshal(pt, &got); err != nil || got.Connection == nil || got.Connection.E2EEKey == nil ||
				*got.Connection.E2EEKey != key.String() || got.Connection.Mode != "room" {
				t.Fatalf("opened layout: %s", pt)
			}
			reply, _ := phoneRoom.SealJSON(map[string]any{"ok": true, "rendered": map[string]any{"tabs": len(got.Tabs)}})
			if err := ph.Reply(f, reply); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !e2ee.IsEnvelope(wire) || strings.Contains(string(wire), pushToken) || strings.Contains(string(wire), key.String()) ||
		strings.Contains(string(wire), "tabs") {
		t.Fatalf("apply-layout crossed the relay in clear: %.200s", wire)
	}
	if r := res.wait(t, "phone-sealed", 1); !r.OK || !strings.Contains(string(r.Rendered), `"tabs":3`) {
		t.Fatalf("sealed reply not read: %+v", r)
	}
	cancel()
	<-runDone
}

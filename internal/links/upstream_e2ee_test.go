package links

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// TestUpstreamEncryptedRoom: with a cipher the upstream link carries only
// envelopes; a sealed prefixed command from a phone on the upstream relay
// switches the box's output (the namespace rules apply to the plaintext)
// and the sealed prefixed state comes back; a plaintext one does nothing.
func TestUpstreamEncryptedRoom(t *testing.T) {
	upRelay := startRelay(t, "127.0.0.1:0")
	cfg := fastDemo("garage")
	cfg.Upstream = &config.Upstream{URL: upRelay.url(), Token: testToken}
	bx := startBox(t, cfg)
	key, _ := e2ee.GenerateKey(nil)
	codec, err := e2ee.NewCodec(key, e2ee.CodecOptions{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := UpstreamFromConfig(cfg)
	up.Client, up.Cipher = fastUpstream, codec
	stop, err := JoinUpstream(bx.b, up, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	const d = 10 * time.Second
	room, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
	ph := phonetest.Dial(t, upRelay.url(), phonetest.App("iPhone", testToken))
	guest := phonetest.Dial(t, upRelay.url(), phonetest.Options{Name: "guest", Token: testToken, Channel: "home", Role: "node"})
	ph.ExpectSealed(room, phonetest.Msg("metrics", "source", "garage.climate"), d)

	ph.Broadcast(map[string]any{"msg_type": "cmd", "target": "garage.lamp", "value": true, "_cmd": "plain", "_from": "iPhone"})
	ph.SealedCmd(room, "garage.fan", true, "k0") // a marker after the plaintext one
	ph.ExpectSealed(room, phonetest.Msg("command_ack", "cmd_id", "k0", "ok", true), d)
	if level(t, bx, lampLine) {
		t.Fatal("a plaintext command from upstream switched the lamp in an encrypted room")
	}
	ph.SealedCmd(room, "garage.lamp", true, "k1")
	if st := ph.ExpectSealed(room, phonetest.Msg("state", "target", "garage.lamp"), d); st["value"] != true {
		t.Fatalf("state %v", st)
	}
	ph.ExpectSealed(room, phonetest.Msg("command_ack", "cmd_id", "k1", "to", "iPhone", "ok", true), d)
	if !level(t, bx, lampLine) {
		t.Fatal("the sealed prefixed command did not switch the lamp")
	}

	// A routed, sealed get_state answers sealed, with prefixed ids.
	env, _ := room.SealJSON(map[string]any{"ids": []string{"garage.lamp"}})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ph.Send("route_msg", map[string]any{"target_name": "garage", "type": "get_state", "payload": env})
	for {
		f, err := ph.Next(ctx)
		if err != nil {
			t.Fatalf("no sealed get_state reply: %v", err)
		}
		if f.ReplyTo == "" || !e2ee.IsEnvelope(f.Payload) {
			continue
		}
		pt, err := room.Open(f.Payload)
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
		if !strings.Contains(string(pt), `"garage.lamp":true`) {
			t.Fatalf("get_state reply %s", pt)
		}
		break
	}

	// Everything the box sent upstream, as a guest there saw it: envelopes.
	gctx, gcancel := context.WithTimeout(context.Background(), d)
	defer gcancel()
	sealed := 0
	for sealed < 10 {
		f, err := guest.Next(gctx)
		if err != nil {
			t.Fatalf("guest saw %d envelopes: %v", sealed, err)
		}
		if f.Type != "broadcast" {
			continue
		}
		var m map[string]any
		_ = json.Unmarshal(f.Payload, &m)
		if m["_from"] == "iPhone" && m["_cmd"] == "plain" {
			continue // the phone's own plaintext attempt
		}
		if !e2ee.IsEnvelope(f.Payload) {
			t.Fatalf("plaintext on the upstream relay: %s", f.Payload)
		}
		sealed++
	}
}

package relay

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The Swift integration suite (§17.5, items 36–44) re-expressed on the wire.
// Clients join like the Swift tests: role node, can_broadcast/can_route true.

func swiftFlags(channel string) map[string]any {
	return map[string]any{"role": "node", "channel": channel, "can_broadcast": true, "can_route": true,
		"can_cross_channel_route": false, "can_monitor": false}
}

// #36 + #44: admission (welcome) and ping → "pong" with type ping.
func TestSwiftConnectAndPing(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.join(t, "SwiftTest", swiftFlags("default"))
	f := c.request("ping", nil)
	if f.Type != "ping" || string(f.Payload) != `"pong"` {
		t.Fatalf("%+v", f)
	}
}

// #37: a client with a wrong token cannot deliver a broadcast.
func TestSwiftBadTokenCannotBroadcast(t *testing.T) {
	r := startRelay(t, testConfig())
	recv := r.join(t, "Receiver", swiftFlags("test-broadcast"))
	bad := r.dial(t, "/", nil)
	bad.send("identify", map[string]any{"name": "Intruder", "token": "wrong-token", "channel": "test-broadcast"})
	_ = bad.ws.WriteMessage(websocket.TextMessage, []byte(`{"id":"b","type":"broadcast_request","payload":{"msg":"evil"}}`))
	bad.expectClose(1008)
	good := r.join(t, "Sender", swiftFlags("test-broadcast"))
	good.request("broadcast_request", map[string]any{"msg": "good"})
	if f := recv.recvType("broadcast"); string(f.Payload) != `{"msg":"good"}` {
		t.Fatalf("receiver got %s first", f.Payload)
	}
}

// #38: handshake is answered with the asker's id and a small latency.
func TestSwiftHandshake(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.join(t, "SwiftTest", swiftFlags("default"))
	now := float64(time.Now().UnixNano()) / 1e9
	var h struct {
		ServerID string   `json:"server_id"`
		L        *float64 `json:"l"`
	}
	f := c.request("handshake", map[string]any{"t": now})
	if err := json.Unmarshal(f.Payload, &h); err != nil || h.L == nil || *h.L >= 5 || *h.L < -1 || h.ServerID != c.id {
		t.Fatalf("handshake %s", f.Payload)
	}
}

// #39: broadcast reaches a receiver on the channel; the sender gets its echo
// before the ack.
func TestSwiftSendAndBroadcast(t *testing.T) {
	r := startRelay(t, testConfig())
	recv := r.join(t, "Receiver", swiftFlags("test-broadcast"))
	send := r.join(t, "Sender", swiftFlags("test-broadcast"))
	id := send.send("broadcast_request", map[string]any{"msg": "hello-from-swift"})
	echo, err := send.recv(3 * time.Second)
	if err != nil || echo.Type != "broadcast" || echo.ReplyTo != "" || string(echo.Payload) != `{"msg":"hello-from-swift"}` {
		t.Fatalf("sender's first frame %+v %v, want its echo", echo, err)
	}
	ack, _ := send.recv(3 * time.Second)
	if ack.ReplyTo != id || ack.Type != "broadcast_request" || string(ack.Payload) != `{"status":"sent"}` {
		t.Fatalf("ack %+v", ack)
	}
	f := recv.recvType("broadcast")
	if string(f.Payload) != `{"msg":"hello-from-swift"}` || f.ID == echo.ID {
		t.Fatalf("receiver got %+v (echo id %s)", f, echo.ID)
	}
}

// #40: an unknown type gets no reply (the next reply is the ping's).
func TestSwiftUnknownTypeNoReply(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.join(t, "SwiftTest", swiftFlags("default"))
	c.send("nonexistent_type_that_nobody_handles", map[string]any{})
	id := c.send("ping", nil)
	if f, err := c.recv(3 * time.Second); err != nil || f.ReplyTo != id {
		t.Fatalf("first frame %+v %v", f, err)
	}
}

// #41: direct routing returns the target's reply verbatim.
func TestSwiftDirectRouting(t *testing.T) {
	r := startRelay(t, testConfig())
	a := r.join(t, "RouterA", swiftFlags("default"))
	b := r.join(t, "RouterB", swiftFlags("default"))
	go func() {
		f := b.recvType("echo_test")
		var p struct{ Data string }
		_ = json.Unmarshal(f.Payload, &p)
		b.sendFrame(map[string]any{"id": "y3", "type": "echo_test", "payload": map[string]any{"echoed": p.Data}, "reply_to": f.ID})
	}()
	f := a.request("route_msg", map[string]any{"target_id": b.id, "type": "echo_test", "payload": map[string]any{"data": "hello-routed"}})
	if f.Type != "route_msg" || string(f.Payload) != `{"echoed":"hello-routed"}` {
		t.Fatalf("%+v", f)
	}
}

// #42: frames flushed right after welcome (offline buffer) are ignored.
func TestSwiftOfflineBufferFlush(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.join(t, "SwiftTest", swiftFlags("default"))
	for i := 0; i < 3; i++ {
		c.send("buffered_msg", map[string]any{"i": i})
	}
	if f := c.request("ping", nil); string(f.Payload) != `"pong"` {
		t.Fatalf("%+v", f)
	}
}

// #43: channel isolation.
func TestSwiftChannelIsolation(t *testing.T) {
	r := startRelay(t, testConfig())
	a := r.join(t, "A", swiftFlags("alpha"))
	b := r.join(t, "B", swiftFlags("beta"))
	a.request("broadcast_request", map[string]any{"msg": "alpha-only"})
	b2 := r.join(t, "B2", swiftFlags("beta"))
	b2.request("broadcast_request", map[string]any{"msg": "beta"})
	if f := b.recvType("broadcast"); string(f.Payload) != `{"msg":"beta"}` {
		t.Fatalf("beta received %s", f.Payload)
	}
}

// §16 superset rows.

func TestAuthTokenKeyAccepted(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.dial(t, "/", nil)
	c.send("identify", map[string]any{"name": "docs-client", "auth_token": testToken, "token": nil})
	c.recvType("welcome")
}

func TestRouteByTargetName(t *testing.T) {
	r := startRelay(t, testConfig())
	a := r.join(t, "a", nil)
	b := r.join(t, "graph-server", nil)
	go func() {
		f := b.recvType("plot")
		b.sendFrame(map[string]any{"id": "1", "type": "plot", "payload": 42, "reply_to": f.ID})
	}()
	if f := a.request("route_msg", map[string]any{"target_name": "graph-server", "type": "plot"}); string(f.Payload) != "42" {
		t.Fatalf("%+v", f)
	}
}

func TestNoReplyByID(t *testing.T) {
	r := startRelay(t, testConfig())
	a := r.join(t, "a", nil)
	b := r.join(t, "b", nil)
	a.send("route_msg_noreply", map[string]any{"target_id": b.id, "type": "note", "payload": map[string]int{"v": 1}})
	if f := b.recvType("note"); string(f.Payload) != `{"v":1}` {
		t.Fatalf("%+v", f)
	}
	// and no reply to the sender: its next frame is the ping reply.
	id := a.send("ping", nil)
	if f, _ := a.recv(3 * time.Second); f.ReplyTo != id {
		t.Fatalf("sender got %+v", f)
	}
}

func TestStatusRequest(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.join(t, "st", nil)
	m := payloadString(t, c.request("status_request", nil).Payload)
	if m["name"] != "st" || m["id"] != c.id || m["status"] != "online" || m["memory_usage"] != "unknown" {
		t.Fatalf("%v", m)
	}
	if _, ok := m["uptime"].(float64); !ok {
		t.Fatalf("uptime %v", m["uptime"])
	}
}

func TestBinaryFramesAccepted(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.dial(t, "/", nil)
	_ = c.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"id":"i","type":"identify","payload":{"name":"bin","token":"tok"}}`))
	c.recvType("welcome")
	_ = c.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"id":"p1","type":"ping","payload":null,"reply_to":null}`))
	mt, msg, err := c.ws.ReadMessage()
	if err != nil || mt != websocket.TextMessage {
		t.Fatalf("reply type %d %v", mt, err)
	}
	var f map[string]any
	_ = json.Unmarshal(msg, &f)
	if f["reply_to"] != "p1" || f["payload"] != "pong" {
		t.Fatalf("%s", msg)
	}
}

// Invalid JSON and non-objects are ignored; the connection stays. (Invalid
// UTF-8 is not garbage to ignore: the reference's websockets library closes
// such a text frame's sender 1007, see TestInvalidUTF8Closes1007.)
func TestGarbageIgnored(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.join(t, "g", nil)
	for _, s := range []string{"{", "[1,2]", "5", `"x"`, "null", `{"type":5}`} {
		c.sendRaw([]byte(s))
	}
	if f := c.request("ping", nil); string(f.Payload) != `"pong"` {
		t.Fatal(f)
	}
}

// Legacy broadcast verbs (§6.4): fan-out type and ack.
func TestLegacyBroadcastVerbs(t *testing.T) {
	r := startRelay(t, testConfig())
	a := r.join(t, "a", nil)
	b := r.join(t, "b", nil)
	for _, v := range []struct{ in, out, ack string }{
		{"iCloud_data_Broadcast", "iCloudListen", `{"status":"sent"}`},
		{"place_visit_Broadcast", "placeVisitListen", `{"status":"sent"}`},
		{"request_prediction", "request_prediction", `{"status":"forwarded"}`},
		{"prediction_result", "prediction_result", `{"status":"forwarded"}`},
		{"service_log", "service_log", `{"status":"broadcasted"}`},
		{"node_status", "node_status", `{"status":"broadcasted"}`},
	} {
		if f := a.request(v.in, map[string]any{"k": v.in}); string(f.Payload) != v.ack || f.Type != v.in {
			t.Fatalf("%s ack %+v", v.in, f)
		}
		if f := b.recvType(v.out); string(f.Payload) != `{"k":"`+v.in+`"}` {
			t.Fatalf("%s fan-out %+v", v.in, f)
		}
	}
}

// Role defaults (§5 superset) and get_nodes semantics.
func TestRoleDefaultsAndGetNodes(t *testing.T) {
	r := startRelay(t, testConfig())
	hub := r.join(t, "hub1", map[string]any{"role": "hub", "channel": "h"})
	viewer := r.join(t, "viewer1", map[string]any{"role": "viewer", "channel": "h", "can_broadcast": 1})
	dash := r.join(t, "dash", map[string]any{"role": "dashboard", "channel": "h", "broadcast_scope": "channel"})
	r.join(t, "elsewhere", map[string]any{"channel": "other"})
	if f := hub.request("broadcast_request", map[string]any{}); string(f.Payload) != `{"status":"sent"}` {
		t.Fatalf("hub broadcast %s", f.Payload)
	}
	wantError(t, viewer.request("broadcast_request", map[string]any{}), "broadcast not allowed") // 1 is not a bool
	if f := viewer.request("get_nodes", nil); string(f.Payload) != `{"clients":[]}` {
		t.Fatalf("non-monitor get_nodes %s", f.Payload)
	}
	list := decodeClients(t, dash.request("get_nodes", nil).Payload)
	if len(list) != 2 {
		t.Fatalf("channel-scope dashboard sees %+v, want hub1+viewer1", list)
	}
	if _, ok := findNode(list, "dash"); ok {
		t.Fatal("get_nodes includes the requester")
	}
	glob := r.join(t, "glob", map[string]any{"role": "browser"}) // monitor ⇒ global scope
	if list := decodeClients(t, glob.request("get_nodes", nil).Payload); len(list) != 4 {
		t.Fatalf("global monitor sees %+v", list)
	}
}

// A global-scope monitor's broadcast reaches every channel (reference pitfall kept).
func TestMonitorBroadcastsGlobally(t *testing.T) {
	r := startRelay(t, testConfig())
	mon := r.join(t, "mcp", map[string]any{"channel": "x", "can_monitor": true, "can_broadcast": true})
	y := r.join(t, "y", map[string]any{"channel": "y"})
	mon.request("broadcast_request", map[string]any{"g": 1})
	if f := y.recvType("broadcast"); string(f.Payload) != `{"g":1}` {
		t.Fatal(f)
	}
}

// Close: every client sees 1001; new connections are refused.
func TestCloseGoingAway(t *testing.T) {
	r := startRelay(t, testConfig())
	a := r.join(t, "a", nil)
	pending := r.dial(t, "/", nil)
	done := make(chan error, 1)
	go func() { done <- r.srv.Close(t.Context()) }()
	if why := a.expectClose(1001); why == "" {
		t.Fatal("no reason")
	}
	pending.expectClose(1001)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, resp, err := websocket.DefaultDialer.Dial(r.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after close: %v %v", resp, err)
	}
}

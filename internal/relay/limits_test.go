package relay

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var validIdents = []string{"phone", "hub", "tmux-bridge", "cider-bridge-v2", "Client-4402",
	strings.Repeat("a", 64), "CAR-TER-Remote-ab12f", "190003614929046.hub", "1.phone-ab12f",
	strings.Repeat("0", 32) + ".x"}

var invalidIdents = []any{nil, 5, "", "a.b c\n", "🦆", []string{"l"}, map[string]int{"d": 1}, "-lead", "_lead",
	strings.Repeat("a", 65), "1.2.3", "abc.def", strings.Repeat("0", 33) + ".x", "12.", "12.-x",
	"Carter's iPhone", "CAR-TER Remote"}

// §17.2 #7/#8/#9: the identity grammar for names and channels, on the wire.
func TestIdentityGrammarOnTheWire(t *testing.T) {
	r := startRelay(t, testConfig())
	for _, v := range validIdents {
		c := r.join(t, v, map[string]any{"channel": v})
		c.ws.Close()
	}
	for _, v := range invalidIdents {
		c := r.dial(t, "/", nil)
		c.send("identify", map[string]any{"name": v, "token": testToken})
		if why := c.expectClose(1008); why != reasonInvalidIdent {
			t.Fatalf("name %#v: reason %q", v, why)
		}
		if v == nil || v == "" {
			continue // null/empty channel means "default"
		}
		c = r.dial(t, "/", nil)
		c.send("identify", map[string]any{"name": "ok", "channel": v, "token": testToken})
		if why := c.expectClose(1008); why != reasonInvalidIdent {
			t.Fatalf("channel %#v: reason %q", v, why)
		}
	}
	r.waitMembers(t, 0)
}

// §17.2 #9 (exact list) and #10: bad channels; empty/missing ⇒ default.
func TestChannels(t *testing.T) {
	r := startRelay(t, testConfig())
	for _, ch := range []any{[]string{"l"}, 7, "bad channel", "a.b.c"} {
		c := r.dial(t, "/", nil)
		c.send("identify", map[string]any{"name": "c", "channel": ch, "token": testToken})
		c.expectClose(1008)
	}
	r.join(t, "nochan", nil)
	r.join(t, "emptychan", map[string]any{"channel": ""})
	r.join(t, "nullchan", map[string]any{"channel": nil})
	list := r.nodes(t)
	for _, name := range []string{"nochan", "emptychan", "nullchan"} {
		if n, ok := findNode(list, name); !ok || n.Channel != "default" {
			t.Fatalf("%s: %+v", name, n)
		}
	}
}

// §17.2 #11.
func TestNamespacedNames(t *testing.T) {
	r := startRelay(t, testConfig())
	r.join(t, "190003614929046.phone-1a2b3", map[string]any{"channel": "190003614929046.home"})
}

// Missing name ⇒ placeholder "Client-…".
func TestPlaceholderName(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.join(t, "", nil)
	if f := c.request("status_request", nil); !strings.HasPrefix(payloadString(t, f.Payload)["name"].(string), "Client-") {
		t.Fatalf("status %s", f.Payload)
	}
}

// §17.2 #12: an oversize frame is refused with 1009; nobody registered.
func TestHugeFrameClosed1009(t *testing.T) {
	r := startRelay(t, testConfig())
	if r.srv.Config().MaxSize != 256*1024 {
		t.Fatalf("MaxSize default = %d", r.srv.Config().MaxSize)
	}
	c := r.dial(t, "/", nil)
	b, _ := json.Marshal(map[string]any{"type": "identify", "payload": map[string]any{"name": strings.Repeat("N", 900000), "token": testToken}})
	_ = c.ws.WriteMessage(websocket.TextMessage, b) // may fail once the relay gives up reading
	c.expectClose(1009)
	r.waitMembers(t, 0)
}

// §17.2 #13: role and scope are sanitised.
func TestRoleAndScopeSanitised(t *testing.T) {
	r := startRelay(t, testConfig())
	odd := r.join(t, "odd", map[string]any{"role": []string{"not", "a", "string"}, "broadcast_scope": "everything", "channel": "a"})
	long := r.join(t, "long", map[string]any{"role": strings.Repeat("r", 65), "channel": "a"})
	other := r.join(t, "other", map[string]any{"channel": "b"})
	same := r.join(t, "same", map[string]any{"channel": "a"})
	list := r.nodes(t)
	for _, name := range []string{"odd", "long"} {
		if n, _ := findNode(list, name); n.Role != "node" {
			t.Fatalf("%s role = %q, want node", name, n.Role)
		}
	}
	// Scope "everything" ⇒ "channel": reaches "a", not "b". ("node" may broadcast.)
	if f := odd.request("broadcast_request", map[string]any{"n": 1}); string(f.Payload) != `{"status":"sent"}` {
		t.Fatalf("ack %s", f.Payload)
	}
	if f := same.recvType("broadcast"); string(f.Payload) != `{"n":1}` {
		t.Fatalf("same channel got %s", f.Payload)
	}
	long.request("broadcast_request", map[string]any{"n": 2})
	// other's first broadcast must come from its own channel.
	third := r.join(t, "third", map[string]any{"channel": "b"})
	third.request("broadcast_request", map[string]any{"n": 3})
	if f := other.recvType("broadcast"); string(f.Payload) != `{"n":3}` {
		t.Fatalf("other channel got %s first", f.Payload)
	}
}

// §17.2 #14: the pending counter is released at auth, so many live sockets
// from one IP work.
func TestManyIdentifiedSocketsFromOneIP(t *testing.T) {
	r := startRelay(t, testConfig())
	var cs []*client
	for i := 0; i < 12; i++ {
		cs = append(cs, r.join(t, "live-"+string(rune('a'+i)), nil))
	}
	for _, c := range cs {
		if f := c.request("ping", nil); string(f.Payload) != `"pong"` {
			t.Fatalf("ping %s", f.Payload)
		}
	}
	if st := r.srv.Stats(); st.Pending != 0 || st.Connections != 12 {
		t.Fatalf("stats %+v", st)
	}
}

// §17.2 #15: the 11th unidentified socket from one IP gets 4429; closing the
// idle ones frees the slots at once.
func TestPendingPerIPCap(t *testing.T) {
	r := startRelay(t, testConfig())
	var idle []*client
	for i := 0; i < 10; i++ {
		c := r.dial(t, "/", nil)
		idle = append(idle, c)
	}
	deadline := time.Now().Add(3 * time.Second)
	for r.srv.Stats().Pending != 10 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c := r.dial(t, "/", nil)
	if why := c.expectClose(4429); why != reasonTooManyPending {
		t.Fatalf("reason %q", why)
	}
	for _, c := range idle {
		c.ws.Close()
	}
	for r.srv.Stats().Pending != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pending = %d", r.srv.Stats().Pending)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.join(t, "after", nil)
}

// §17.2 #16: the global connection cap.
func TestMaxConnections(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnections = 2
	r := startRelay(t, cfg)
	r.join(t, "one", nil)
	r.dial(t, "/", nil)
	// The handshake completes before the relay counts the socket: wait for
	// the count so the third socket is the one over the cap.
	deadline := time.Now().Add(5 * time.Second)
	for r.srv.Stats().Connections < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c := r.dial(t, "/", nil)
	if why := c.expectClose(4429); why != reasonTooManyConns {
		t.Fatalf("reason %q", why)
	}
	if st := r.srv.Stats(); st.Connections != 2 {
		t.Fatalf("open = %d", st.Connections)
	}
}

// MESH_MAX_CONNECTIONS counts sockets only, as in the reference relay: with
// the bridge joined in-process, a cap of 2 still admits two WebSocket
// clients, and a socket flood cannot lock an in-process member out.
// (Found by running the reference suite against meshbox: the pipe used to
// take a socket's slot.)
func TestMaxConnectionsCountsSocketsNotPipes(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnections = 2
	r := startRelay(t, cfg)
	hub := r.pipe(t)
	hub.send("identify", map[string]any{"name": "meshbox", "token": testToken, "role": "hub"})
	hub.recvType("welcome")
	r.join(t, "one", nil)
	r.join(t, "two", nil)
	third := r.dial(t, "/", nil)
	if why := third.expectClose(4429); why != reasonTooManyConns {
		t.Fatalf("third socket: reason %q", why)
	}
	late := r.pipe(t)
	late.send("identify", map[string]any{"name": "late-member", "token": testToken, "role": "hub"})
	if w := late.recvType("welcome"); payloadString(t, w.Payload)["name"] != "late-member" {
		t.Fatalf("welcome %s", w.Payload)
	}
	if st := r.srv.Stats(); st.Connections != 4 || st.Members != 4 {
		t.Fatalf("stats %+v, want 4 open (2 sockets + 2 pipes), 4 members", st)
	}
}

// §17.2 #21: Origin on the wire.
func TestOriginOnTheWire(t *testing.T) {
	r := startRelay(t, testConfig())
	bad := r.dial(t, "/", http.Header{"Origin": {"http://localhost.evil.com"}})
	if why := bad.expectClose(1008); why != reasonOrigin {
		t.Fatalf("reason %q", why)
	}
	good := r.dial(t, "/", http.Header{"Origin": {"http://localhost"}})
	good.identify("browser", nil)
	if f := good.recvType("welcome"); f.Type != "welcome" {
		t.Fatal(f)
	}
}

// §17.2 #23: an unmatched reply is dropped, not dispatched.
func TestStrayReplyDropped(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.join(t, "c", nil)
	c.sendFrame(map[string]any{"id": "s1", "type": "ping", "payload": "pong", "reply_to": "never-pending"})
	id := c.send("ping", nil)
	f, err := c.recv(3 * time.Second)
	if err != nil || f.ReplyTo != id || string(f.Payload) != `"pong"` {
		t.Fatalf("first frame %+v %v, want the real ping's reply", f, err)
	}
}

// §17.2 #24: a silent target ⇒ "target timeout" reply.
func TestRouteTargetTimeout(t *testing.T) {
	r := startRelay(t, testConfig()) // RouteTimeout 300ms
	a := r.join(t, "a", nil)
	b := r.join(t, "silent", nil)
	a.sendFrame(map[string]any{"id": "r1", "type": "route_msg", "payload": map[string]any{"target_id": b.id, "type": "q", "payload": nil}})
	f := a.replyTo("r1")
	if f.Type != "route_msg" {
		t.Fatalf("type %q", f.Type)
	}
	wantError(t, f, "target timeout")
	if r.srv.Stats().RouteTimeouts != 1 {
		t.Fatal("route timeout not counted")
	}
}

// A target that answers null gets the same error; a target that leaves
// mid-request answers "target timeout" at once.
func TestRouteNullAnswerAndTargetGone(t *testing.T) {
	cfg := testConfig()
	cfg.RouteTimeout = time.Minute
	r := startRelay(t, cfg)
	a := r.join(t, "a", nil)
	b := r.join(t, "b", nil)
	id := a.send("route_msg", map[string]any{"target_id": b.id, "type": "q"})
	q := b.recvType("q")
	b.sendFrame(map[string]any{"id": "z", "type": "q", "payload": nil, "reply_to": q.ID})
	wantError(t, a.replyTo(id), "target timeout")
	id = a.send("route_msg", map[string]any{"target_id": b.id, "type": "q"})
	b.recvType("q")
	b.ws.Close()
	wantError(t, a.replyTo(id), "target timeout")
}

// §17.2 #25: 16 outstanding routes, the 17th is refused.
func TestOutstandingRouteCap(t *testing.T) {
	cfg := testConfig()
	cfg.RouteTimeout = time.Minute
	r := startRelay(t, cfg)
	a := r.join(t, "a", nil)
	b := r.join(t, "b", nil)
	for i := 0; i < 16; i++ {
		a.send("route_msg", map[string]any{"target_id": b.id, "type": "q"})
	}
	for i := 0; i < 16; i++ {
		b.recvType("q")
	}
	a.sendFrame(map[string]any{"id": "over", "type": "route_msg", "payload": map[string]any{"target_id": b.id, "type": "q"}})
	wantError(t, a.replyTo("over"), "too many outstanding routes")
}

// §17.2 #26: malformed route payloads get error replies.
func TestMalformedRoutes(t *testing.T) {
	r := startRelay(t, testConfig())
	a := r.join(t, "a", nil)
	for _, p := range []any{[]int{1}, map[string]any{"target_id": []int{1}, "type": "x"},
		map[string]any{"target_id": "x"}, map[string]any{"type": "x"}, "str", nil} {
		f := a.request("route_msg", p)
		if f.Type != "route_msg" {
			t.Fatalf("type %q", f.Type)
		}
		wantError(t, f, "malformed route")
	}
	f := a.request("route_msg_noreply", "str")
	if f.Type != "route_msg_noreply" {
		t.Fatalf("type %q", f.Type)
	}
	wantError(t, f, "malformed route")
	wantError(t, a.request("route_msg", map[string]any{"target_id": "nope", "type": "x"}), "Target not found")
	wantError(t, a.request("route_msg_noreply", map[string]any{"target_name": "nope", "type": "x"}), "Target not found")
}

// Permission errors of routing in the reference order.
func TestRoutePermissions(t *testing.T) {
	r := startRelay(t, testConfig())
	viewer := r.join(t, "viewer", map[string]any{"role": "viewer"})
	a := r.join(t, "a", map[string]any{"channel": "x"})
	b := r.join(t, "b", map[string]any{"channel": "y"})
	wantError(t, viewer.request("route_msg", map[string]any{"target_id": "nope", "type": "x"}), "Target not found")
	wantError(t, viewer.request("route_msg", map[string]any{"target_id": a.id, "type": "x"}), "routing not allowed")
	wantError(t, a.request("route_msg", map[string]any{"target_id": b.id, "type": "x"}), "cross-channel route denied")
	wantError(t, a.request("route_msg_noreply", map[string]any{"target_name": "b", "type": "x"}), "cross-channel route denied")
	wantError(t, viewer.request("broadcast_request", map[string]any{}), "broadcast not allowed")
	wantError(t, viewer.request("service_log", map[string]any{}), "log broadcast not allowed")
	wantError(t, viewer.request("node_status", map[string]any{}), "broadcast not allowed")
	cross := r.join(t, "cross", map[string]any{"channel": "x", "can_cross_channel_route": "yes"})
	cross.send("route_msg_noreply", map[string]any{"target_name": "b", "type": "hi", "payload": "p"})
	if f := b.recvType("hi"); string(f.Payload) != `"p"` || f.ReplyTo != "" {
		t.Fatalf("%+v", f)
	}
}

// §17.2 #27: the rate limit closes 1008.
func TestRateLimitCloses(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 5
	r := startRelay(t, cfg)
	c := r.join(t, "fast", nil)
	for i := 0; i < 10; i++ {
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
			break
		}
	}
	if why := c.expectClose(1008); why != reasonRateLimit {
		t.Fatalf("reason %q", why)
	}
}

// §17.3 #31: any path and query is accepted; ?token= is a token source.
func TestAnyPathAndQueryToken(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.dial(t, "/path?token=SUPERSECRET", nil)
	c.identify("pathy", nil)
	c.recvType("welcome")
	q := r.dial(t, "/x/y?token="+testToken, nil)
	q.send("identify", map[string]any{"name": "querytok"})
	q.recvType("welcome")
	bad := r.dial(t, "/?token=nope", nil)
	bad.send("identify", map[string]any{"name": "badq"})
	bad.expectClose(1008)
}

// Keepalive: a peer that never answers pings is closed 1011.
func TestKeepaliveClosesDeadPeer(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval = 100 * time.Millisecond
	cfg.PingTimeout = 500 * time.Millisecond
	r := startRelay(t, cfg)
	live := r.join(t, "live", nil)
	dead := r.join(t, "dead", nil)
	dead.ws.SetPingHandler(func(string) error { return nil }) // swallow pings
	go func() {
		for { // keep the live one reading (gorilla answers pings while reading)
			if _, _, err := live.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	dead.expectClose(1011)
	r.waitMembers(t, 1)
}

// Plain HTTP gets 426.
func TestPlainHTTP(t *testing.T) {
	r := startRelay(t, testConfig())
	resp, err := http.Get("http" + strings.TrimPrefix(r.url, "ws") + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

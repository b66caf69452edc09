package relay

import (
	"testing"
	"time"
)

// §17.1 #1: a second identify closes 1008 and leaves the tables unchanged.
func TestReidentifyClosesAndLeavesTablesUnchanged(t *testing.T) {
	r := startRelay(t, testConfig())
	victim := r.join(t, "victim", map[string]any{"channel": "chA"})
	attacker := r.join(t, "attacker", map[string]any{"channel": "chB"})
	attacker.identify("victim", map[string]any{"channel": "chA", "can_monitor": true,
		"broadcast_scope": "global", "can_cross_channel_route": true})
	if why := attacker.expectClose(1008); why != reasonReidentify {
		t.Fatalf("reason = %q", why)
	}
	r.waitMembers(t, 1)
	list := r.nodes(t)
	n, ok := findNode(list, "victim")
	if !ok || n.ID != victim.id || n.Channel != "chA" {
		t.Fatalf("victim entry = %+v (found %v), want id %s channel chA", n, ok, victim.id)
	}
	if _, ok := findNode(list, "attacker"); ok {
		t.Fatal("attacker still registered")
	}
	if f := victim.request("ping", nil); string(f.Payload) != `"pong"` || f.Type != "ping" {
		t.Fatalf("ping reply = %+v", f)
	}
	// The name still routes to the victim.
	router := r.join(t, "router", map[string]any{"channel": "chA"})
	router.send("route_msg_noreply", map[string]any{"target_name": "victim", "type": "hello", "payload": 1})
	if f := victim.recvType("hello"); string(f.Payload) != "1" {
		t.Fatalf("routed payload = %s", f.Payload)
	}
}

// §17.1 #2: a second identify with a bad token also closes; nobody stays.
func TestReidentifyWithInvalidTokenCloses(t *testing.T) {
	r := startRelay(t, testConfig())
	x := r.join(t, "x", nil)
	x.send("identify", map[string]any{"name": "x2", "token": "bad"})
	x.expectClose(1008)
	r.waitMembers(t, 0)
	list := r.nodes(t)
	for _, n := range list {
		if n.Name == "x" || n.Name == "x2" {
			t.Fatalf("%s still registered", n.Name)
		}
	}
}

// §17.1 #3: a bad token is refused at once with 1008 "unauthorized" (the
// auth timer would close 1000, so the code proves it was immediate).
func TestBadTokenClosesImmediately(t *testing.T) {
	cfg := testConfig()
	cfg.AuthTimeout = time.Minute
	r := startRelay(t, cfg)
	for _, p := range []map[string]any{
		{"name": "a", "token": "wrong"},
		{"name": "a", "token": nil},
		{"name": "a"},
		{"name": "a", "token": []int{1}},
		{"name": "a", "token": "to"}, // prefix
		{"name": "a", "auth_token": "tokk"},
	} {
		c := r.dial(t, "/", nil)
		c.send("identify", p)
		if why := c.expectClose(1008); why != reasonUnauthorized {
			t.Fatalf("%v: reason %q", p, why)
		}
	}
	if st := r.srv.Stats(); st.Members != 0 {
		t.Fatalf("members = %d", st.Members)
	}
}

// §17.1 #4: a client-sent welcome changes nothing.
func TestClientWelcomeIgnored(t *testing.T) {
	r := startRelay(t, testConfig())
	peer := r.join(t, "peer", nil)
	c := r.join(t, "sneaky", nil)
	c.send("welcome", map[string]any{"id": peer.id})
	if f := c.request("status_request", nil); payloadString(t, f.Payload)["id"] != c.id {
		t.Fatalf("status after welcome = %s, want id %s", f.Payload, c.id)
	}
	c.ws.Close()
	r.waitMembers(t, 1)
	router := r.join(t, "router", nil)
	go func() {
		f := peer.recvType("echo")
		peer.sendFrame(map[string]any{"id": "x", "type": "echo", "payload": "back", "reply_to": f.ID})
	}()
	f := router.request("route_msg", map[string]any{"target_id": peer.id, "type": "echo", "payload": "hi"})
	if string(f.Payload) != `"back"` {
		t.Fatalf("route reply %s", f.Payload)
	}
}

// §17.1 #6: a monitor's roster push includes the joiner.
func TestJoinerIsInRosterPush(t *testing.T) {
	r := startRelay(t, testConfig())
	mon := r.join(t, "mon", map[string]any{"channel": "r", "can_monitor": true})
	own := decodeClients(t, mon.recvType("server_client_list").Payload)
	if _, ok := findNode(own, "mon"); !ok {
		t.Fatalf("monitor's own push %+v lacks itself", own)
	}
	joiner := r.join(t, "joiner", map[string]any{"channel": "r"})
	list := decodeClients(t, mon.recvType("server_client_list").Payload)
	n, ok := findNode(list, "joiner")
	if !ok || n.ID != joiner.id || n.Channel != "r" || n.Role != "node" {
		t.Fatalf("push %+v lacks joiner %s", list, joiner.id)
	}
	joiner.ws.Close()
	list = decodeClients(t, mon.recvType("server_client_list").Payload)
	if _, ok := findNode(list, "joiner"); ok {
		t.Fatalf("push after leave still lists joiner: %+v", list)
	}
}

// Same-name policy (§4.5): the newcomer evicts the incumbent (close 1000).
func TestSameNameEviction(t *testing.T) {
	r := startRelay(t, testConfig())
	old := r.join(t, "SwiftTest", nil)
	nw := r.join(t, "SwiftTest", nil)
	old.expectClose(1000)
	if nw.id == old.id {
		t.Fatal("same id reissued")
	}
	r.waitMembers(t, 1)
	n, _ := findNode(r.nodes(t), "SwiftTest")
	if n.ID != nw.id {
		t.Fatalf("name maps to %s, want newcomer %s", n.ID, nw.id)
	}
	if f := nw.request("ping", nil); string(f.Payload) != `"pong"` {
		t.Fatalf("newcomer ping %s", f.Payload)
	}
}

func TestAuthTimeoutClosesNormally(t *testing.T) {
	cfg := testConfig()
	cfg.AuthTimeout = 100 * time.Millisecond
	r := startRelay(t, cfg)
	c := r.dial(t, "/", nil)
	c.send("ping", nil) // pre-auth gate: not answered
	c.expectClose(1000)
}

// Pre-auth gate: nothing but identify is processed before welcome.
func TestPreAuthGate(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.dial(t, "/", nil)
	c.send("ping", nil)
	c.send("broadcast_request", map[string]any{"x": 1})
	c.send("get_nodes", nil)
	c.identify("late", nil)
	f, err := c.recv(3 * time.Second)
	if err != nil || f.Type != "welcome" {
		t.Fatalf("first frame = %+v, %v; want welcome", f, err)
	}
}

// welcome is the first frame a joiner receives even while a member floods
// its channel with broadcasts (registration and welcome are atomic).
func TestWelcomeFirstUnderBroadcastLoad(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = -1
	r := startRelay(t, cfg)
	pub := r.join(t, "pub", map[string]any{"channel": "busy"})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if pub.ws.WriteMessage(1, []byte(`{"id":"b","type":"broadcast_request","payload":{"x":1}}`)) != nil {
				return
			}
			_, _, _ = pub.ws.ReadMessage() // echo
			_, _, _ = pub.ws.ReadMessage() // ack
		}
	}()
	for i := 0; i < 30; i++ {
		c := r.join(t, "j"+string(rune('a'+i%26))+string(rune('a'+i/26)), map[string]any{"channel": "busy"}) // fails unless welcome is first
		c.ws.Close()
	}
	close(stop)
	<-done
	st := r.srv.Stats()
	if st.FramesIn == 0 || st.FramesOut == 0 || st.Accepted < 31 {
		t.Fatalf("stats %+v", st)
	}
}

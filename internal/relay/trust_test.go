package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/logtest"
)

// startRelayLog is startRelay with every log line (Debug up) captured.
func startRelayLog(t *testing.T, cfg Config) (*testRelay, *logtest.Tail) {
	t.Helper()
	tail := logtest.New(t)
	srv := New(cfg, slog.New(slog.NewTextHandler(tail, &slog.HandlerOptions{Level: slog.LevelDebug})))
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		hs.Close()
	})
	return &testRelay{srv: srv, url: "ws" + strings.TrimPrefix(hs.URL, "http")}, tail
}

// dialFrom dials from a given loopback source address (127.0.0.0/8 is all
// loopback on Linux), so a test can play many client IPs.
func (r *testRelay) dialFrom(t *testing.T, ip string) *client {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
	ws, resp, err := d.Dial(r.url+"/", nil)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

// joinWith identifies with token and extra fields and waits for welcome.
func (c *client) joinWith(name, token string, extra map[string]any) {
	c.t.Helper()
	p := map[string]any{"name": name, "token": token}
	for k, v := range extra {
		p[k] = v
	}
	c.send("identify", p)
	f, err := c.recv(10 * time.Second)
	if err != nil || f.Type != "welcome" {
		c.t.Fatalf("join %s: %+v %v", name, f, err)
	}
	var w struct{ ID string }
	_ = json.Unmarshal(f.Payload, &w)
	c.id = w.ID
}

// waitStats polls until ok(Stats()) holds (10 s).
func (r *testRelay) waitStats(t *testing.T, what string, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(r.srv.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: stats %+v", what, r.srv.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// #12 finding 4: invalid UTF-8 inside a frame's JSON (text or binary frame)
// is never forwarded; the sender is closed 1007, the others are unharmed.
func TestInvalidUTF8Closes1007(t *testing.T) {
	r := startRelay(t, testConfig())
	rx := r.join(t, "rx", nil)
	for i, mt := range []int{websocket.TextMessage, websocket.BinaryMessage} {
		bad := r.join(t, fmt.Sprintf("bad%d", i), nil)
		msg := []byte(`{"id":"b1","type":"broadcast_request","payload":{"msg_type":"chat_message","text":"caf` + "\xe9\xff" + `"},"reply_to":null}`)
		if err := bad.ws.WriteMessage(mt, msg); err != nil {
			t.Fatal(err)
		}
		if why := bad.expectClose(1007); why != reasonInvalidUTF8 {
			t.Fatalf("reason %q", why)
		}
		// rx got nothing from bad: its next broadcast is this marker.
		good := r.join(t, fmt.Sprintf("good%d", i), nil)
		good.request("broadcast_request", map[string]any{"n": i})
		f := rx.recvType("broadcast")
		if string(f.Payload) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("rx got %q first", f.Payload)
		}
		good.ws.Close()
	}
	if f := rx.request("ping", nil); string(f.Payload) != `"pong"` {
		t.Fatalf("rx ping %s", f.Payload)
	}
	if st := r.srv.Stats(); st.InvalidUTF8 != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// #12 finding 7: before identify only a small frame is read. A 5 KB frame
// from an unidentified socket is refused 1009 and never parsed; after
// identify, frames up to MaxSize pass.
func TestPreAuthFrameLimit(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.dial(t, "/", nil)
	big, _ := json.Marshal(map[string]any{"type": "identify", "payload": map[string]any{
		"name": "pad", "token": testToken, "x": strings.Repeat("p", 5000)}})
	_ = c.ws.WriteMessage(websocket.TextMessage, big)
	c.expectClose(1009)
	r.waitMembers(t, 0)

	ok := r.join(t, "after", nil)
	rx := r.join(t, "rx", nil)
	payload := map[string]any{"blob": strings.Repeat("b", 100_000)}
	if f := ok.request("broadcast_request", payload); string(f.Payload) != ackSent {
		t.Fatalf("ack %s", f.Payload)
	}
	if f := rx.recvType("broadcast"); len(f.Payload) < 100_000 {
		t.Fatalf("rx got %d bytes", len(f.Payload))
	}
}

// #12 finding 7: a flood of token-less sockets from many source addresses
// (each under the per-IP cap) cannot fill max_connections: the global
// pending cap evicts the oldest unidentified socket, and a phone still joins.
func TestPendingFloodFromManyAddressesCannotLockPhonesOut(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnections = 20
	cfg.MaxPending = 5
	r := startRelay(t, cfg)
	var flood []*client
	for i := 0; i < 30; i++ {
		c := r.dialFrom(t, fmt.Sprintf("127.0.1.%d", i+1))
		flood = append(flood, c)
		r.waitStats(t, "admission", func(s Stats) bool { return s.Accepted+s.Rejected >= uint64(i+1) })
	}
	if st := r.srv.Stats(); st.Pending > 5 || st.Evicted != 25 {
		t.Fatalf("stats %+v, want ≤ 5 pending and 25 evicted", st)
	}
	// The oldest went first, with 4429.
	if why := flood[0].expectClose(4429); why != reasonTooManyPending {
		t.Fatalf("reason %q", why)
	}
	phone := r.dialFrom(t, "127.0.2.1")
	phone.joinWith("phone", testToken, nil)
	// The newest flood socket is still pending (and closes on its own
	// auth timeout); the phone is a member.
	if f := phone.request("ping", nil); string(f.Payload) != `"pong"` {
		t.Fatal(f)
	}
}

// An evicted socket whose identify is in flight is never registered, and
// counts stay right: after the flood only live sockets are counted.
func TestPendingCountsAfterEviction(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPending = 2
	r := startRelay(t, cfg)
	var cs []*client
	for i := 0; i < 6; i++ {
		cs = append(cs, r.dialFrom(t, fmt.Sprintf("127.0.3.%d", i+1)))
		r.waitStats(t, "admission", func(s Stats) bool { return s.Accepted >= uint64(i+1) })
	}
	for _, c := range cs {
		c.ws.Close()
	}
	r.waitStats(t, "all gone", func(s Stats) bool { return s.Connections == 0 && s.Pending == 0 })
}

// #12 finding 8: failed identifies are throttled per IP. After
// AuthFailures wrong tokens the address is blocked: even the right token
// is refused from it, while other addresses join; the refusals are not
// one log line each, and no log line holds a token or a hash of it.
func TestAuthFailureBackoffPerIP(t *testing.T) {
	cfg := testConfig()
	cfg.AuthToken = "correct-horse-battery-staple"
	cfg.AuthFailures = 3
	cfg.AuthFailBlock = time.Minute
	cfg.MaxPendingPerIP = -1
	r, tail := startRelayLog(t, cfg)
	const guesser = "127.0.4.1"
	for i := 0; i < 20; i++ {
		c := r.dialFrom(t, guesser)
		c.identifyWith("g", fmt.Sprintf("guess-%03d", i))
		if why := c.expectClose(1008); why != reasonUnauthorized {
			t.Fatalf("guess %d: reason %q", i, why)
		}
	}
	c := r.dialFrom(t, guesser)
	c.identifyWith("g", cfg.AuthToken)
	if why := c.expectClose(1008); why != reasonUnauthorized {
		t.Fatalf("blocked address got %q", why)
	}
	r.dialFrom(t, "127.0.4.2").joinWith("phone", cfg.AuthToken, nil)
	if st := r.srv.Stats(); st.AuthFailed != 21 {
		t.Fatalf("stats %+v", st)
	}
	if n := len(tail.Matching("identify refused")); n > gateBurst+1 {
		t.Fatalf("%d identify-refused log lines for 21 refusals", n)
	}
	logs := tail.String()
	for _, tok := range []string{cfg.AuthToken, "guess-000", "guess-019"} {
		sum := sha256.Sum256([]byte(tok))
		for _, s := range []string{tok, hex.EncodeToString(sum[:])[:8]} {
			if strings.Contains(logs, s) {
				t.Fatalf("log holds %q:\n%s", s, logs)
			}
		}
	}
	if strings.Contains(logs, "sha256") {
		t.Fatalf("log mentions a token hash:\n%s", logs)
	}
}

// The block expires: with a short block the right token works again.
func TestAuthFailureBlockExpires(t *testing.T) {
	cfg := testConfig()
	cfg.AuthFailures = 1
	cfg.AuthFailBlock = 50 * time.Millisecond
	r := startRelay(t, cfg)
	for i := 0; i < 2; i++ {
		c := r.dialFrom(t, "127.0.5.1")
		c.identifyWith("g", "wrong")
		c.expectClose(1008)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := r.dialFrom(t, "127.0.5.1")
		c.identifyWith("ok", testToken)
		f, err := c.recv(10 * time.Second)
		if err == nil && f.Type == "welcome" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refused after the block: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// #12 finding 8: a token under 16 characters is reported loudly.
func TestWeakTokenWarning(t *testing.T) {
	for tok, weak := range map[string]bool{"1234": true, "fifteen-chars15": true, "sixteen-chars-16": false} {
		tail := logtest.New(t)
		s := New(Config{AuthToken: tok}, slog.New(slog.NewTextHandler(tail, nil)))
		if s.WeakToken() != weak || (len(s.Warnings()) > 0) != weak {
			t.Fatalf("token %q: WeakToken %v warnings %q", tok, s.WeakToken(), s.Warnings())
		}
		if got := len(tail.Matching("level=WARN", "WEAK TOKEN")); (got == 1) != weak {
			t.Fatalf("token %q: %d warnings logged:\n%s", tok, got, tail.String())
		}
		if strings.Contains(tail.String(), tok) {
			t.Fatalf("the token is logged: %s", tail.String())
		}
		_ = s.Close(context.Background())
	}
}

// fakeCreds is a token store for the scope tests.
type fakeCreds struct {
	mu sync.Mutex
	m  map[string]Scope
}

func (f *fakeCreds) Lookup(tok string) (Scope, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.m[tok]
	return s, ok
}

func (f *fakeCreds) revoke(tok string) {
	f.mu.Lock()
	delete(f.m, tok)
	f.mu.Unlock()
}

const (
	ctlToken  = "controller-token-0123456789"
	viewToken = "viewer-token-0123456789abc"
)

func startScoped(t *testing.T) (*testRelay, *fakeCreds) {
	creds := &fakeCreds{m: map[string]Scope{ctlToken: ScopeController, viewToken: ScopeViewer}}
	cfg := testConfig()
	cfg.Credentials = creds
	return startRelay(t, cfg), creds
}

// #12 What to build, credentials: the config token stays a hub (full
// rights); a controller actuates but gets no monitor or hub-only rights; a
// viewer reads, may ask for a snapshot, and its commands are not forwarded
// but acked ok:false "read-only" like the bridge would.
func TestCredentialScopes(t *testing.T) {
	r, creds := startScoped(t)
	all := map[string]any{"can_broadcast": true, "can_route": true, "can_monitor": true,
		"can_cross_channel_route": true, "broadcast_scope": "global", "channel": "home"}
	hub := r.dial(t, "/", nil)
	hub.joinWith("hub", testToken, all)
	hub.recvType("server_client_list")
	ctl := r.dial(t, "/", nil)
	ctl.joinWith("ctl", ctlToken, all)
	view := r.dial(t, "/", nil)
	view.joinWith("view", viewToken, all)
	other := r.dial(t, "/", nil)
	other.joinWith("other", testToken, map[string]any{"channel": "elsewhere"})

	bad := r.dial(t, "/", nil)
	bad.identifyWith("x", "not-a-token-at-all-123")
	if why := bad.expectClose(1008); why != reasonUnauthorized {
		t.Fatalf("unknown token: %q", why)
	}

	// Controller: no roster, channel-scoped broadcast, no cross-channel route.
	if got := decodeClients(t, ctl.request("get_nodes", nil).Payload); len(got) != 0 {
		t.Fatalf("controller get_nodes %+v", got)
	}
	ctl.request("broadcast_request", map[string]any{"msg_type": "cmd", "target": "lamp", "value": true})
	if f := hub.recvType("broadcast"); payloadString(t, f.Payload)["target"] != "lamp" {
		t.Fatalf("hub got %s", f.Payload)
	}
	wantError(t, ctl.request("route_msg", map[string]any{"target_name": "other", "type": "x"}), "cross-channel route denied")
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		f := hub.recvType("get_state")
		b, _ := json.Marshal(map[string]any{"id": "r", "type": f.Type, "payload": map[string]any{"ok": true}, "reply_to": f.ID})
		_ = hub.ws.WriteMessage(websocket.TextMessage, b)
	}()
	if f := ctl.request("route_msg", map[string]any{"target_name": "hub", "type": "get_state"}); string(f.Payload) != `{"ok":true}` {
		t.Fatalf("controller route %s", f.Payload)
	}
	<-answered

	// Viewer: a command gets read-only and its command_ack; nothing reaches the hub.
	id := view.send("broadcast_request", map[string]any{"msg_type": "set", "target": "lamp", "value": false,
		"_cmd": "c-1", "_from": "someone-else"})
	wantError(t, view.replyTo(id), "read-only")
	ack := view.recvType("broadcast")
	want := `{"msg_type":"command_ack","cmd_id":"c-1","to":"view","ok":false,"error":"read-only"}`
	if string(ack.Payload) != want {
		t.Fatalf("viewer ack %s, want %s", ack.Payload, want)
	}
	wantError(t, view.request("route_msg", map[string]any{"target_name": "hub", "type": "command",
		"payload": map[string]any{"command": "all_off", "_cmd": "c-2"}}), "routing not allowed")
	if f := view.recvType("broadcast"); payloadString(t, f.Payload)["cmd_id"] != "c-2" {
		t.Fatalf("viewer route ack %s", f.Payload)
	}
	// A snapshot request passes; it is the hub's next broadcast (the set did not come through).
	view.request("broadcast_request", map[string]any{"msg_type": "control_sync_request", "from": "view"})
	if f := hub.recvType("broadcast"); payloadString(t, f.Payload)["msg_type"] != "control_sync_request" {
		t.Fatalf("hub got %s, want the sync request", f.Payload)
	}
	// The viewer receives the hub's broadcasts.
	hub.request("broadcast_request", map[string]any{"msg_type": "control_snapshot", "to": "view"})
	for {
		if f := view.recvType("broadcast"); payloadString(t, f.Payload)["msg_type"] == "control_snapshot" {
			break
		}
	}
	if got := decodeClients(t, view.request("get_nodes", nil).Payload); len(got) != 0 {
		t.Fatalf("viewer get_nodes %+v", got)
	}

	// Scopes are listed.
	scopes := map[string]Scope{}
	for _, m := range r.srv.Members() {
		scopes[m.Name] = m.Scope
	}
	if scopes["hub"] != ScopeHub || scopes["ctl"] != ScopeController || scopes["view"] != ScopeViewer || scopes["other"] != ScopeHub {
		t.Fatalf("members %+v", r.srv.Members())
	}

	// A phone credential cannot take a hub's name.
	thief := r.dial(t, "/", nil)
	thief.identifyWith("hub", viewToken)
	if why := thief.expectClose(1008); why != reasonNameTaken {
		t.Fatalf("name theft: %q", why)
	}
	if f := hub.request("ping", nil); string(f.Payload) != `"pong"` {
		t.Fatal("hub evicted")
	}

	// Revoking a token and revalidating closes its member.
	creds.revoke(viewToken)
	if n := r.srv.Revalidate(); n != 1 {
		t.Fatalf("Revalidate closed %d", n)
	}
	if why := view.expectClose(1008); why != reasonUnauthorized {
		t.Fatalf("revoked: %q", why)
	}
}

// Credentials alone (no config token) is not an open relay.
func TestCredentialsWithoutTokenIsNotOpen(t *testing.T) {
	r := startRelay(t, Config{Credentials: &fakeCreds{m: map[string]Scope{ctlToken: ScopeController}}})
	c := r.dial(t, "/", nil)
	c.send("identify", map[string]any{"name": "anon"})
	c.expectClose(1008)
	r.dial(t, "/", nil).joinWith("ctl", ctlToken, nil)
}

// #15: a client flooding past the rate limit reads the 1008 close frame, not
// an abnormal 1006, even while it keeps sending.
func TestFloodSeesRateLimitClose(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 5
	r := startRelay(t, cfg)
	for round := 0; round < 3; round++ {
		c := r.join(t, fmt.Sprintf("flood%d", round), nil)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			frame := []byte(`{"type":"ping","payload":"` + strings.Repeat("f", 2000) + `"}`)
			for i := 0; i < 3000; i++ {
				if c.ws.WriteMessage(websocket.TextMessage, frame) != nil {
					return
				}
			}
		}()
		if why := c.expectClose(1008); why != reasonRateLimit {
			t.Fatalf("reason %q", why)
		}
		wg.Wait()
	}
}

func (c *client) identifyWith(name, token string) {
	c.t.Helper()
	c.send("identify", map[string]any{"name": name, "token": token})
}

func TestMemberLogLevel(t *testing.T) {
	for _, c := range []struct {
		pipe bool
		name string
		want slog.Level
	}{
		{true, "meshbox", slog.LevelDebug},
		{false, "page-1a2b3c", slog.LevelDebug},
		{false, "meshbox-cli-4d5e6f", slog.LevelDebug},
		{false, "alices-phone", slog.LevelInfo},
	} {
		if got := memberLevel(c.pipe, c.name); got != c.want {
			t.Errorf("memberLevel(%v, %q) = %v, want %v", c.pipe, c.name, got, c.want)
		}
	}
}

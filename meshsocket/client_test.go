package meshsocket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
)

func TestRequestReply(t *testing.T) {
	for _, impl := range relayImpls() {
		t.Run(impl.name, func(t *testing.T) {
			r := startRelay(t, impl, testToken)
			c := startClient(t, fastOpts(r.url(), "req-a"))
			if c.ID() == "" {
				t.Fatal("no id after welcome")
			}
			out, err := c.Request(ctxT(t, 5*time.Second), "ping", nil)
			if err != nil || string(out) != `"pong"` {
				t.Fatalf("ping = %s, %v; want \"pong\"", out, err)
			}
			// Unknown types get no reply: the request times out.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if out, err := c.Request(ctx, "nonexistent_type_that_nobody_handles", nil); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("unknown type = %s, %v; want deadline exceeded", out, err)
			}
			// broadcast_request is acknowledged.
			out, err = c.Request(ctxT(t, 5*time.Second), "broadcast_request", map[string]any{"msg_type": "x"})
			if err != nil || CheckReply(out) != nil || !strings.Contains(string(out), `"sent"`) {
				t.Fatalf("broadcast ack = %s, %v", out, err)
			}
		})
	}
}

func TestRoutedRequestsAndHandlerReplies(t *testing.T) {
	for _, impl := range relayImpls() {
		t.Run(impl.name, func(t *testing.T) {
			r := startRelay(t, impl, testToken)
			a := startClient(t, fastOpts(r.url(), "route-a"))
			b := startClient(t, fastOpts(r.url(), "route-b"))
			b.On("echo_test", func(_ context.Context, f Frame) (any, error) {
				var p struct{ Data string }
				if err := json.Unmarshal(f.Payload, &p); err != nil {
					return nil, err
				}
				return map[string]string{"echoed": p.Data}, nil
			})
			b.On("boom", func(context.Context, Frame) (any, error) { return nil, errors.New("no such pin") })
			b.On("panic", func(context.Context, Frame) (any, error) { panic("bad input") })
			ctx := ctxT(t, 10*time.Second)

			out, err := a.Route(ctx, b.ID(), "echo_test", map[string]string{"data": "hello-routed"})
			if err != nil || string(out) != `{"echoed":"hello-routed"}` {
				t.Fatalf("echo_test = %s, %v", out, err)
			}
			var fe *FailedError
			if _, err := a.Route(ctx, b.ID(), "boom", nil); !errors.As(err, &fe) || fe.Reason != "no such pin" {
				t.Fatalf("handler error = %v; want FailedError(no such pin)", err)
			}
			if _, err := a.Route(ctx, b.ID(), "panic", nil); !errors.As(err, &fe) || !strings.Contains(fe.Reason, "panic") {
				t.Fatalf("handler panic = %v; want a failed reply", err)
			}
			if _, err := a.Route(ctx, "no-such-id", "echo_test", nil); !errors.As(err, &fe) || fe.Reason != "Target not found" {
				t.Fatalf("unknown target = %v", err)
			}
			// Built-ins answer through the relay too.
			if out, err := a.Route(ctx, b.ID(), "ping", nil); err != nil || string(out) != `"pong"` {
				t.Fatalf("routed ping = %s, %v", out, err)
			}
			out, err = a.Route(ctx, b.ID(), "status_request", nil)
			var st struct {
				Name, ID, Status string
				Uptime           float64
				MemoryUsage      any `json:"memory_usage"`
			}
			if err != nil || json.Unmarshal(out, &st) != nil || st.Name != "route-b" || st.ID != b.ID() || st.Status != "online" || st.MemoryUsage == nil {
				t.Fatalf("status_request = %s, %v", out, err)
			}
			now := float64(time.Now().UnixNano()) / 1e9
			out, err = a.Route(ctx, b.ID(), "handshake", map[string]float64{"t": now})
			var hs struct {
				ServerID string  `json:"server_id"`
				L        float64 `json:"l"`
			}
			if err != nil || json.Unmarshal(out, &hs) != nil || hs.ServerID != b.ID() || hs.L < 0 || hs.L > 5 {
				t.Fatalf("handshake = %s, %v", out, err)
			}
			// Off removes the handler: no reply, the request times out.
			b.Off("echo_test")
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			if out, err := a.Route(short, b.ID(), "echo_test", map[string]string{"data": "x"}); err == nil {
				t.Fatalf("after Off: %s; want no reply", out)
			}
		})
	}
}

func TestBroadcastFanout(t *testing.T) {
	for _, impl := range relayImpls() {
		t.Run(impl.name, func(t *testing.T) {
			r := startRelay(t, impl, testToken)
			type got struct {
				who string
				f   Frame
			}
			ch := make(chan got, 16)
			var clients []*Client
			for _, n := range []string{"fan-a", "fan-b", "fan-c"} {
				c := startClient(t, fastOpts(r.url(), n))
				c.On("broadcast", func(_ context.Context, f Frame) (any, error) {
					ch <- got{n, f}
					return nil, nil
				})
				clients = append(clients, c)
			}
			oo := fastOpts(r.url(), "fan-other")
			oo.Channel = "elsewhere"
			other := startClient(t, oo)
			otherCh := make(chan Frame, 16)
			other.On("broadcast", func(_ context.Context, f Frame) (any, error) {
				otherCh <- f
				return nil, nil
			})
			ctx := ctxT(t, 5*time.Second)
			ack, err := clients[0].Request(ctx, "broadcast_request", map[string]any{"msg_type": "metrics", "cpu": 42})
			if err != nil || CheckReply(ack) != nil {
				t.Fatalf("broadcast_request = %s, %v", ack, err)
			}
			seen := map[string]bool{}
			for len(seen) < 3 {
				g := recv(t, ch, "broadcast fan-out")
				if string(g.f.Payload) != `{"cpu":42,"msg_type":"metrics"}` {
					t.Fatalf("%s got payload %s", g.who, g.f.Payload)
				}
				if seen[g.who] {
					t.Fatalf("%s got the broadcast twice", g.who)
				}
				seen[g.who] = true
			}
			// Channel isolation: the other channel's own echo arrives and
			// nothing from channel "test" came before it.
			if err := other.Broadcast(ctx, map[string]string{"msg_type": "mine"}); err != nil {
				t.Fatal(err)
			}
			if f := recv(t, otherCh, "own echo"); !strings.Contains(string(f.Payload), "mine") {
				t.Fatalf("other channel received %s", f.Payload)
			}
		})
	}
}

func TestBadTokenIsAnError(t *testing.T) {
	for _, impl := range relayImpls() {
		t.Run(impl.name, func(t *testing.T) {
			r := startRelay(t, impl, testToken)
			var dials atomic.Int32
			o := fastOpts(r.url(), "bad-token")
			o.Token = "wrong-token"
			o.Dial = func(ctx context.Context) (wire.Transport, error) {
				dials.Add(1)
				return DialWebSocket(ctx, r.url(), WebSocketOptions{})
			}
			var connects atomic.Int32
			o.OnConnect = func(string) { connects.Add(1) }
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Start(ctxT(t, 5*time.Second))
			if !isRefused(err) || !strings.Contains(err.Error(), "1008 unauthorized") {
				t.Fatalf("Start = %v; want relay refused identify: 1008 unauthorized", err)
			}
			var ce *wire.CloseError
			if !errors.As(err, &ce) || ce.Code != 1008 {
				t.Fatalf("error %v does not unwrap to close 1008", err)
			}
			// The supervisor keeps retrying with backoff.
			deadline := time.Now().Add(5 * time.Second)
			for dials.Load() < 3 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if dials.Load() < 3 {
				t.Fatalf("dials = %d; want retries", dials.Load())
			}
			if c.Ready() || connects.Load() != 0 {
				t.Fatal("refused client reported ready")
			}
			if _, err := c.Request(ctxT(t, 200*time.Millisecond), "ping", nil); err == nil {
				t.Fatal("request on a refused client succeeded")
			}
			// A one-shot client returns the refusal from Run.
			o.NoReconnect = true
			c2, _ := New(o)
			defer c2.Close()
			if err := c2.Run(ctxT(t, 5*time.Second)); !isRefused(err) {
				t.Fatalf("Run = %v", err)
			}
		})
	}
}

// TestReconnectFlushesOfflineFrames restarts the relay on the same port:
// frames sent while it was down arrive after the reconnect, in order, none
// lost, none duplicated; OnConnect/OnDisconnect are paired.
func TestReconnectFlushesOfflineFrames(t *testing.T) {
	for _, impl := range relayImpls() {
		t.Run(impl.name, func(t *testing.T) {
			r := startRelay(t, impl, testToken)
			events := make(chan string, 32)
			recvOpts := fastOpts(r.url(), "rx")
			recvOpts.OnConnect = func(string) { events <- "rx-up" }
			recvOpts.OnDisconnect = func(error) { events <- "rx-down" }
			rx := startClient(t, recvOpts)
			got := make(chan string, 64)
			rx.On("broadcast", func(_ context.Context, f Frame) (any, error) {
				var p struct {
					Seq string `json:"seq"`
				}
				_ = json.Unmarshal(f.Payload, &p)
				got <- p.Seq
				return nil, nil
			})

			gate := make(chan struct{}, 1)
			gate <- struct{}{} // first dial passes
			var ups, downs atomic.Int32
			txOpts := fastOpts(r.url(), "tx")
			txOpts.MaxOfflineBuffer = 100
			txOpts.OnConnect = func(string) { ups.Add(1); events <- "tx-up" }
			txOpts.OnDisconnect = func(error) { downs.Add(1); events <- "tx-down" }
			txOpts.Dial = func(ctx context.Context) (wire.Transport, error) {
				select {
				case <-gate:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return DialWebSocket(ctx, r.url(), WebSocketOptions{})
			}
			tx := startClient(t, txOpts)
			waitEvents(t, events, "rx-up", "tx-up")

			r.stop()
			waitEvents(t, events, "rx-down", "tx-down")
			ctx := ctxT(t, 10*time.Second)
			const n = 25
			for i := range n {
				if err := tx.Broadcast(ctx, map[string]string{"seq": fmt.Sprint(i)}); err != nil {
					t.Fatalf("offline send %d: %v", i, err)
				}
			}
			r.start()
			waitEvents(t, events, "rx-up")
			gate <- struct{}{} // let the sender redial now that rx listens
			waitEvents(t, events, "tx-up")
			if err := tx.Broadcast(ctx, map[string]string{"seq": "end"}); err != nil {
				t.Fatal(err)
			}
			var seqs []string
			for {
				s := recv(t, got, "replayed broadcast")
				if s == "end" {
					break
				}
				seqs = append(seqs, s)
			}
			want := make([]string, n)
			for i := range want {
				want[i] = fmt.Sprint(i)
			}
			if strings.Join(seqs, ",") != strings.Join(want, ",") {
				t.Fatalf("after reconnect got %v; want %v", seqs, want)
			}
			if ups.Load() != 2 || downs.Load() != 1 {
				t.Fatalf("OnConnect=%d OnDisconnect=%d; want 2/1", ups.Load(), downs.Load())
			}
			if out, err := tx.Request(ctx, "ping", nil); err != nil || string(out) != `"pong"` {
				t.Fatalf("ping after replay = %s, %v", out, err)
			}
			tx.Close()
			if downs.Load() != 2 {
				t.Fatalf("OnDisconnect after Close = %d; want 2", downs.Load())
			}
		})
	}
}

// waitEvents waits until every named event was seen (others are skipped).
func waitEvents(t *testing.T, ch <-chan string, names ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for len(want) > 0 {
		delete(want, recv(t, ch, fmt.Sprint(names)))
	}
}

// TestDeafRelayDetected: the relay stops answering (frozen proxy, or the
// test relay's deaf mode); the keepalive notices, OnDisconnect fires, the
// supervisor redials and OnConnect fires again.
func TestDeafRelayDetected(t *testing.T) {
	for _, impl := range relayImpls() {
		t.Run(impl.name, func(t *testing.T) {
			r := startRelay(t, impl, testToken)
			p := startProxy(t, r.addr)
			deafTest(t, p.url(), false, p.setFrozen)
		})
	}
	t.Run("testrelay-deaf-mode", func(t *testing.T) {
		r := startRelay(t, relayImpls()[0], testToken)
		deafTest(t, r.url(), true, r.testRelay().Deaf.Store)
	})
}

// deafTest: setDeaf(true) makes the relay deaf, before the client connects
// if early (the test relay decides per accepted connection).
func deafTest(t *testing.T, url string, early bool, setDeaf func(bool)) {
	events := make(chan string, 8)
	var downErr atomic.Value
	o := fastOpts(url, "deaf")
	o.PingInterval = 50 * time.Millisecond
	o.PingTimeout = 100 * time.Millisecond
	o.OnConnect = func(string) { events <- "up" }
	o.OnDisconnect = func(err error) {
		downErr.Store(fmt.Sprint(err))
		events <- "down"
	}
	if early {
		setDeaf(true)
	}
	c := startClient(t, o)
	waitEvents(t, events, "up")
	setDeaf(!early) // early: this connection stays deaf, the next hears
	waitEvents(t, events, "down")
	if s, _ := downErr.Load().(string); !strings.Contains(s, "keepalive") {
		t.Fatalf("disconnect reason %q; want keepalive", s)
	}
	setDeaf(false) // a frozen proxy holds the redial until now
	waitEvents(t, events, "up")
	if out, err := c.Request(ctxT(t, 5*time.Second), "ping", nil); err != nil || string(out) != `"pong"` {
		t.Fatalf("ping after redial = %s, %v", out, err)
	}
}

func TestStrayRepliesAndIdentify(t *testing.T) {
	cli, rel := newMemPair()
	fr := &fakeRelay{t: t, end: rel}
	c, err := New(Options{
		Name: "ident", Token: "tok", Channel: "home", Role: "hub", BroadcastScope: "channel",
		CanBroadcast: Bool(true), CanRoute: Bool(false), CanMonitor: Bool(true), CanCrossChannelRoute: Bool(false),
		Dial:        func(context.Context) (wire.Transport, error) { return cli, nil },
		NoReconnect: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var handled atomic.Int32
	c.On("thing", func(context.Context, Frame) (any, error) { handled.Add(1); return "ok", nil })
	started := make(chan error, 1)
	go func() { started <- c.Start(context.Background()) }()
	id := fr.read()
	var p map[string]any
	_ = json.Unmarshal(id.Payload, &p)
	want := map[string]any{"name": "ident", "token": "tok", "channel": "home", "role": "hub",
		"broadcast_scope": "channel", "can_broadcast": true, "can_route": false, "can_monitor": true,
		"can_cross_channel_route": false}
	if id.Type != "identify" || fmt.Sprint(p) != fmt.Sprint(want) {
		t.Fatalf("identify = %s %v; want %v", id.Type, p, want)
	}
	// Frames before welcome do not make it ready; a welcome without id is ignored.
	fr.send(wire.Frame{Type: "welcome", Payload: json.RawMessage(`{"name":"x"}`)})
	fr.welcome("srv-1")
	if err := recv(t, started, "start"); err != nil {
		t.Fatal(err)
	}
	if c.ID() != "srv-1" {
		t.Fatalf("id = %q", c.ID())
	}
	// A stray reply (type "thing", reply_to unknown) is not dispatched.
	fr.send(wire.Frame{Type: "thing", ReplyTo: "nobody-asked"})
	fr.send(wire.Frame{ID: "q1", Type: "thing"})
	f := fr.read()
	if f.ReplyTo != "q1" || string(f.Payload) != `"ok"` || f.Type != "thing" {
		t.Fatalf("reply = %+v", f)
	}
	if handled.Load() != 1 {
		t.Fatalf("handler ran %d times; want 1 (stray reply must be dropped)", handled.Load())
	}
	// A second welcome does not change the id; junk is ignored.
	_ = rel.WriteMessage(context.Background(), []byte("not json"))
	_ = rel.WriteMessage(context.Background(), []byte("[1,2]"))
	fr.welcome("srv-2")
	// Request: matched by reply_to only, whatever the type.
	res := make(chan json.RawMessage, 1)
	go func() {
		out, _ := c.Request(context.Background(), "get_nodes", nil)
		res <- out
	}()
	q := fr.read()
	fr.send(wire.Frame{Type: "other", Payload: json.RawMessage(`1`), ReplyTo: "wrong"})
	fr.send(wire.Frame{Type: "whatever", Payload: json.RawMessage(`{"clients":[]}`), ReplyTo: q.ID})
	if out := recv(t, res, "reply"); string(out) != `{"clients":[]}` {
		t.Fatalf("request got %s", out)
	}
	if c.ID() != "srv-1" {
		t.Fatalf("second welcome changed the id to %q", c.ID())
	}
	// The relay closing the connection fails pending requests fast.
	go func() {
		_, err := c.Request(context.Background(), "slow", nil)
		res <- json.RawMessage(fmt.Sprint(err))
	}()
	fr.read()
	rel.closeWith(&wire.CloseError{Code: 1001})
	if out := recv(t, res, "failed request"); !strings.Contains(string(out), ErrDisconnected.Error()) {
		t.Fatalf("pending request ended with %s", out)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	r := startRelay(t, relayImpls()[0], testToken)
	a := startClient(t, fastOpts(r.url(), "close-a"))
	b := startClient(t, fastOpts(r.url(), "close-b"))
	entered := make(chan struct{})
	var once sync.Once
	b.On("block", func(ctx context.Context, _ Frame) (any, error) {
		once.Do(func() { close(entered) })
		<-ctx.Done() // a long handler: Close must cancel and wait for it
		return nil, ctx.Err()
	})
	go func() { _, _ = a.Route(context.Background(), b.ID(), "block", nil) }()
	recv(t, entered, "handler start")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(context.Background(), "x", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
	if err := b.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close = %v", err)
	}
	_ = a.Close()
	// TestMain's goleak check fails the run if any client goroutine is left.
}

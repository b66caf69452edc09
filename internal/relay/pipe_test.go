package relay

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
)

// pipeMember is an in-process member over Server.Pipe.
type pipeMember struct {
	t  *testing.T
	tr wire.Transport
	id string
}

func (r *testRelay) pipe(t *testing.T) *pipeMember {
	t.Helper()
	tr, err := r.srv.Pipe(t.Context(), "pipe:bridge")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return &pipeMember{t: t, tr: tr}
}

func (p *pipeMember) send(typ string, payload any) string {
	p.t.Helper()
	id := wire.NewID()
	b, _ := json.Marshal(payload)
	if err := p.tr.WriteMessage(p.t.Context(), wire.Encode(wire.Frame{ID: id, Type: typ, Payload: b})); err != nil {
		p.t.Fatalf("write: %v", err)
	}
	return id
}

func (p *pipeMember) recv() (wire.Frame, error) {
	ctx, cancel := context.WithTimeout(p.t.Context(), 3*time.Second)
	defer cancel()
	msg, err := p.tr.ReadMessage(ctx)
	if err != nil {
		return wire.Frame{}, err
	}
	return wire.Decode(msg)
}

func (p *pipeMember) recvType(typ string) wire.Frame {
	p.t.Helper()
	for {
		f, err := p.recv()
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f.Type == typ {
			return f
		}
	}
}

func (p *pipeMember) expectClose(code int) string {
	p.t.Helper()
	for {
		_, err := p.recv()
		if err == nil {
			continue
		}
		var ce *wire.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			p.t.Fatalf("got %v, want close %d", err, code)
		}
		return ce.Reason
	}
}

func TestPipeMemberJoinsLikeAClient(t *testing.T) {
	r := startRelay(t, testConfig())
	phone := r.join(t, "phone", map[string]any{"channel": "home", "role": "controller"})
	hub := r.pipe(t)
	hub.send("identify", map[string]any{"name": "meshbox", "token": testToken, "channel": "home", "role": "hub",
		"can_broadcast": true, "can_route": true, "can_monitor": true, "broadcast_scope": "channel"})
	w := hub.recvType("welcome")
	hub.id = payloadString(t, w.Payload)["id"].(string)
	list := decodeClients(t, hub.recvType("server_client_list").Payload)
	if _, ok := findNode(list, "phone"); !ok || len(list) != 2 {
		t.Fatalf("hub roster %+v", list)
	}
	// hub → phone broadcast
	hub.send("broadcast_request", map[string]any{"msg_type": "metrics", "t": 21.5})
	if f := phone.recvType("broadcast"); string(f.Payload) != `{"msg_type":"metrics","t":21.5}` {
		t.Fatalf("phone got %s", f.Payload)
	}
	// phone → hub routed request, answered by the hub
	go func() {
		f := hub.recvType("get-state")
		b := wire.Encode(wire.Frame{ID: "x", Type: f.Type, Payload: json.RawMessage(`{"ok":true}`), ReplyTo: f.ID})
		_ = hub.tr.WriteMessage(context.Background(), b)
	}()
	if f := phone.request("route_msg", map[string]any{"target_name": "meshbox", "type": "get-state"}); string(f.Payload) != `{"ok":true}` {
		t.Fatalf("route reply %s", f.Payload)
	}
}

func TestPipeSameRules(t *testing.T) {
	cfg := testConfig()
	cfg.PipeRateLimit = 5
	cfg.MaxSize = 1024
	r := startRelay(t, cfg)

	bad := r.pipe(t)
	bad.send("identify", map[string]any{"name": "meshbox", "token": "wrong"})
	if why := bad.expectClose(1008); why != reasonUnauthorized {
		t.Fatalf("reason %q", why)
	}
	grammar := r.pipe(t)
	grammar.send("identify", map[string]any{"name": "mesh box", "token": testToken})
	grammar.expectClose(1008)

	big := r.pipe(t)
	big.send("identify", map[string]any{"name": strings.Repeat("n", 2000), "token": testToken})
	big.expectClose(1009)

	fast := r.pipe(t)
	fast.send("identify", map[string]any{"name": "fast", "token": testToken})
	fast.recvType("welcome")
	for i := 0; i < 10; i++ {
		if err := fast.tr.WriteMessage(t.Context(), []byte(`{"type":"ping"}`)); err != nil {
			break
		}
	}
	if why := fast.expectClose(1008); why != reasonRateLimit {
		t.Fatalf("reason %q", why)
	}
}

func TestPipeClosedOnShutdown(t *testing.T) {
	r := startRelay(t, testConfig())
	p := r.pipe(t)
	p.send("identify", map[string]any{"name": "meshbox", "token": testToken})
	p.recvType("welcome")
	if err := r.srv.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.expectClose(1001)
	if _, err := r.srv.Pipe(t.Context(), "late"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Pipe after Close: %v", err)
	}
}

func TestPipeMemberLeaving(t *testing.T) {
	r := startRelay(t, testConfig())
	p := r.pipe(t)
	p.send("identify", map[string]any{"name": "meshbox", "token": testToken})
	p.recvType("welcome")
	r.waitMembers(t, 1)
	p.tr.Close()
	r.waitMembers(t, 0)
}

func TestSocketCannotEvictPipeMember(t *testing.T) {
	r := startRelay(t, testConfig())
	hub := r.pipe(t)
	hub.send("identify", map[string]any{"name": "meshbox", "token": testToken})
	hub.recvType("welcome")
	c := r.dial(t, "/", nil)
	c.identify("meshbox", nil)
	if why := c.expectClose(1008); why != reasonNameReserved {
		t.Fatalf("reason %q", why)
	}
	if n, ok := findNode(r.nodes(t), "meshbox"); !ok || n.ID == "" {
		t.Fatal("hub lost its name")
	}
	// A restarted bridge (pipe) still replaces its stale self.
	hub2 := r.pipe(t)
	hub2.send("identify", map[string]any{"name": "meshbox", "token": testToken})
	hub2.recvType("welcome")
	hub.expectClose(1000)
}

// A quiet pipe gets neither its own broadcasts nor "sent" replies; others
// still get its broadcasts, and it still gets theirs.
func TestQuietPipe(t *testing.T) {
	srv := New(Config{}, nil)
	defer srv.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	quiet, err := srv.PipeWith(ctx, "bridge", PipeOptions{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	loud, err := srv.Pipe(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	identify := func(tr wire.Transport, name string) {
		t.Helper()
		if err := tr.WriteMessage(ctx, []byte(`{"id":"i-`+name+`","type":"identify","payload":{"name":"`+name+`","role":"hub"},"reply_to":null}`)); err != nil {
			t.Fatal(err)
		}
		msg, err := tr.ReadMessage(ctx)
		if err != nil || !strings.Contains(string(msg), `"welcome"`) {
			t.Fatalf("%s: welcome: %s %v", name, msg, err)
		}
	}
	identify(quiet, "bridge")
	identify(loud, "other")
	if err := quiet.WriteMessage(ctx, []byte(`{"id":"b1","type":"broadcast_request","payload":{"n":1},"reply_to":null}`)); err != nil {
		t.Fatal(err)
	}
	if err := loud.WriteMessage(ctx, []byte(`{"id":"b2","type":"broadcast_request","payload":{"n":2},"reply_to":null}`)); err != nil {
		t.Fatal(err)
	}
	// The quiet pipe's next frame is the other member's broadcast: no echo
	// of its own, no "sent" reply before it.
	msg, err := quiet.ReadMessage(ctx)
	if err != nil || !strings.Contains(string(msg), `"broadcast"`) || !strings.Contains(string(msg), `{"n":2}`) {
		t.Fatalf("quiet pipe read %s %v, want the other's broadcast", msg, err)
	}
	// The loud one gets the quiet one's broadcast, its own echo and its reply.
	var got []string
	for len(got) < 3 {
		msg, err := loud.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(msg))
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, `{"n":1}`) || !strings.Contains(all, `{"n":2}`) || !strings.Contains(all, `"sent"`) {
		t.Fatalf("loud pipe got:\n%s", all)
	}
}

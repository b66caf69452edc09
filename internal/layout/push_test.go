package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/meshsocket"
)

const pushToken = "push-test-token"

// fakePhone is a phonetest phone that answers apply-layout like the app
// (ok:true with a rendered summary, or ok:false), or never answers.
type fakePhone struct {
	*phonetest.Phone
	answer string // "ok", "refuse", "silent"

	mu      sync.Mutex
	layouts []json.RawMessage
	done    chan struct{}
}

func joinPhone(t *testing.T, url, name, channel, answer string) *fakePhone {
	t.Helper()
	return joinAs(t, url, name, channel, "controller", answer)
}

// joinAs joins a member with any role (a command-line client is "node").
func joinAs(t *testing.T, url, name, channel, role, answer string) *fakePhone {
	t.Helper()
	ph := phonetest.Dial(t, url, phonetest.Options{Name: name, Channel: channel, Role: role, Token: pushToken,
		Flags: map[string]any{"can_broadcast": true}})
	p := &fakePhone{Phone: ph, answer: answer, done: make(chan struct{})}
	go p.read()
	t.Cleanup(p.close)
	return p
}

func (p *fakePhone) read() {
	defer close(p.done)
	for {
		f, err := p.Next(context.Background())
		if err != nil {
			return
		}
		if f.Type != "apply-layout" {
			continue
		}
		p.mu.Lock()
		p.layouts = append(p.layouts, f.Payload)
		p.mu.Unlock()
		var reply any
		switch p.answer {
		case "ok":
			var l Layout
			_ = json.Unmarshal(f.Payload, &l)
			reply = map[string]any{"ok": true, "rendered": map[string]any{"name": l.Name, "tabs": len(l.Tabs)}}
		case "refuse":
			reply = map[string]any{"ok": false, "error": "missing required field: tabs"}
		default:
			continue
		}
		_ = p.Reply(f, reply)
	}
}

func (p *fakePhone) close() {
	p.Close()
	<-p.done
}

func (p *fakePhone) pushes() []json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]json.RawMessage(nil), p.layouts...)
}

type results struct {
	mu  sync.Mutex
	all []PushResult
}

func (r *results) add(res PushResult) {
	r.mu.Lock()
	r.all = append(r.all, res)
	r.mu.Unlock()
}

// wait returns the n-th (1-based) result for name, waiting up to 5s.
func (r *results) wait(t *testing.T, name string, n int) PushResult {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		seen := 0
		for _, res := range r.all {
			if res.Member.Name == name {
				if seen++; seen == n {
					r.mu.Unlock()
					return res
				}
			}
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no push result #%d for %s", n, name)
	return PushResult{}
}

func (r *results) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, res := range r.all {
		if res.Member.Name == name {
			n++
		}
	}
	return n
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestPusherOverRealRelay runs the pusher on a real relay over loopback
// WebSockets with fake phones: one renders the layout, one refuses it, one
// never answers (an older app). Each gets exactly one push per layout
// version, reconnecting does not trigger another, and a new layout version
// is pushed once more.
func TestPusherOverRealRelay(t *testing.T) {
	srv := relay.New(relay.Config{AuthToken: pushToken, RouteTimeout: 300 * time.Millisecond}, nil)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close(context.Background())
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bridgeClient, err := meshsocket.New(meshsocket.Options{URL: url, Name: "meshbox", Token: pushToken, Channel: "home",
		Role: "hub", BroadcastScope: "channel", CanBroadcast: meshsocket.Bool(true), CanRoute: meshsocket.Bool(true),
		CanMonitor: meshsocket.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	defer bridgeClient.Close()
	if err := bridgeClient.Start(ctx); err != nil {
		t.Fatal(err)
	}

	l1, err := Generate(config.Demo(), Options{URL: url, Token: pushToken})
	if err != nil {
		t.Fatal(err)
	}
	var cur sync.Mutex
	current := l1
	logs := &syncBuf{}
	res := &results{}
	p := NewPusher(PushOptions{
		Client: bridgeClient, Self: "meshbox", Channel: "home",
		Layout:   func() *Layout { cur.Lock(); defer cur.Unlock(); return current },
		Interval: 30 * time.Millisecond, Timeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), OnResult: res.add,
	})
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = p.Run(ctx) }()

	ok := joinPhone(t, url, "phone-ok", "home", "ok")
	refuse := joinPhone(t, url, "phone-refuse", "home", "refuse")
	silent := joinPhone(t, url, "phone-silent", "home", "silent")
	other := joinPhone(t, url, "phone-garage", "garage", "ok")
	cli := joinAs(t, url, "meshbox-cli", "home", "node", "ok")
	viewer := joinAs(t, url, "dashboard-ipad", "home", "viewer", "ok")

	r := res.wait(t, "phone-ok", 1)
	if !r.OK || !strings.Contains(string(r.Rendered), `"tabs":3`) {
		t.Fatalf("phone-ok: %+v", r)
	}
	got := ok.pushes()
	if len(got) != 1 {
		t.Fatalf("phone-ok got %d pushes", len(got))
	}
	var pushed Layout
	if err := json.Unmarshal(got[0], &pushed); err != nil || pushed.Connection == nil || pushed.Connection.Token == nil ||
		*pushed.Connection.Token != pushToken || len(pushed.Tabs) != len(l1.Tabs) {
		t.Fatalf("pushed layout is not the layout with its connection token: %s", got[0])
	}
	var top map[string]any
	if err := json.Unmarshal(got[0], &top); err != nil || top["msg_type"] != nil {
		t.Errorf("apply-layout payload is not the bare layout: %v", top["msg_type"])
	}
	if r := res.wait(t, "phone-refuse", 1); r.OK || r.Err != "missing required field: tabs" {
		t.Fatalf("phone-refuse: %+v", r)
	}
	if r := res.wait(t, "phone-silent", 1); !r.Timeout {
		t.Fatalf("phone-silent: %+v", r)
	}

	// Many polls later: still one push each, nothing for the other channel.
	time.Sleep(20 * 30 * time.Millisecond)
	for _, ph := range []*fakePhone{ok, refuse, silent} {
		if n := len(ph.pushes()); n != 1 {
			t.Errorf("%s got %d pushes, want 1", ph.Name(), n)
		}
	}
	if n := len(other.pushes()); n != 0 {
		t.Errorf("a phone on another channel got %d pushes", n)
	}
	if n := len(cli.pushes()); n != 0 {
		t.Errorf("a role-node client (not a phone) got %d pushes", n)
	}
	if n := len(viewer.pushes()); n != 1 {
		t.Errorf("a viewer phone got %d pushes, want 1", n)
	}

	// Reconnecting with the same name: same layout version, no push.
	ok.close()
	again := joinPhone(t, url, "phone-ok", "home", "ok")
	time.Sleep(10 * 30 * time.Millisecond)
	if n := len(again.pushes()); n != 0 {
		t.Errorf("reconnected phone got %d pushes for the same layout version", n)
	}

	// A new layout version is pushed once to every phone.
	cfg := config.Demo()
	cfg.Layout.Title = "Workshop"
	l2, err := Generate(cfg, Options{URL: url, Token: pushToken})
	if err != nil {
		t.Fatal(err)
	}
	cur.Lock()
	current = l2
	cur.Unlock()
	if r := res.wait(t, "phone-ok", 2); !r.OK || r.Version != l2.Fingerprint() || r.Version == l1.Fingerprint() {
		t.Fatalf("new version: %+v", r)
	}
	time.Sleep(10 * 30 * time.Millisecond)
	if n := len(again.pushes()); n != 1 {
		t.Errorf("reconnected phone got %d pushes after the new version, want 1", n)
	}

	// Back to the first layout (a linked box went away and came back, #19):
	// the phone has l2 on screen, so l1 is pushed again.
	cur.Lock()
	current = l1
	cur.Unlock()
	if r := res.wait(t, "phone-ok", 3); !r.OK || r.Version != l1.Fingerprint() {
		t.Fatalf("layout changed back: %+v", r)
	}

	cancel()
	<-runDone
	out := logs.String()
	for _, want := range []string{"phone rendered the layout", "phone refused the layout", "older app"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if res.count("phone-silent") != 3 || res.count("phone-refuse") != 3 {
		t.Errorf("pushes: silent %d refuse %d, want 3 each (one per change of version)", res.count("phone-silent"), res.count("phone-refuse"))
	}
}

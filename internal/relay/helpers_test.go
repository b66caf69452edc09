package relay

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/wire"
)

const testToken = "tok"

// testConfig is the default test relay: token "tok", short route timeout.
func testConfig() Config {
	return Config{AuthToken: testToken, RouteTimeout: 300 * time.Millisecond}
}

type testRelay struct {
	srv *Server
	url string
}

func startRelay(t *testing.T, cfg Config) *testRelay {
	t.Helper()
	srv := New(cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		hs.Close()
	})
	return &testRelay{srv: srv, url: "ws" + strings.TrimPrefix(hs.URL, "http")}
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
	id string
}

func (r *testRelay) dial(t *testing.T, path string, hdr http.Header) *client {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(r.url+path, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

func (c *client) sendFrame(f map[string]any) {
	c.t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send sends a frame with a fresh id and returns the id.
func (c *client) send(typ string, payload any) string {
	c.t.Helper()
	id := wire.NewID()
	c.sendFrame(map[string]any{"id": id, "type": typ, "payload": payload, "reply_to": nil})
	return id
}

func (c *client) identify(name string, extra map[string]any) {
	c.t.Helper()
	p := map[string]any{"name": name, "token": testToken}
	for k, v := range extra {
		p[k] = v
	}
	if name == "" {
		delete(p, "name")
	}
	c.send("identify", p)
}

// recv reads one frame; a close surfaces as *websocket.CloseError.
func (c *client) recv(timeout time.Duration) (wire.Frame, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	_, msg, err := c.ws.ReadMessage()
	if err != nil {
		return wire.Frame{}, err
	}
	f, err := wire.Decode(msg)
	if err != nil {
		c.t.Fatalf("relay sent undecodable frame %q: %v", msg, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(msg, &raw); err != nil || len(raw) != 4 {
		c.t.Fatalf("relay frame %s does not have exactly the 4 keys", msg)
	}
	return f, nil
}

// recvType skips frames until one of type typ arrives.
func (c *client) recvType(typ string) wire.Frame {
	c.t.Helper()
	for {
		f, err := c.recv(3 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for %q: %v", typ, err)
		}
		if f.Type == typ {
			return f
		}
	}
}

// replyTo skips frames until the reply to id arrives.
func (c *client) replyTo(id string) wire.Frame {
	c.t.Helper()
	for {
		f, err := c.recv(3 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for the reply to %s: %v", id, err)
		}
		if f.ReplyTo == id {
			return f
		}
	}
}

// request sends and waits for the reply payload.
func (c *client) request(typ string, payload any) wire.Frame {
	c.t.Helper()
	return c.replyTo(c.send(typ, payload))
}

// expectClose reads until the relay closes, and checks the code.
func (c *client) expectClose(code int) string {
	c.t.Helper()
	for {
		_, err := c.recv(5 * time.Second)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("want close %d, got %v", code, err)
		}
		if ce.Code != code {
			c.t.Fatalf("close code = %d (%q), want %d", ce.Code, ce.Text, code)
		}
		return ce.Text
	}
}

// join identifies and waits for welcome, which must be the first frame.
func (r *testRelay) join(t *testing.T, name string, extra map[string]any) *client {
	t.Helper()
	c := r.dial(t, "/", nil)
	c.identify(name, extra)
	f, err := c.recv(3 * time.Second)
	if err != nil {
		t.Fatalf("join %s: %v", name, err)
	}
	if f.Type != "welcome" || f.ReplyTo != "" {
		t.Fatalf("first frame = %+v, want welcome", f)
	}
	var w struct{ ID, Name string }
	if err := json.Unmarshal(f.Payload, &w); err != nil || w.ID == "" {
		t.Fatalf("welcome payload %s", f.Payload)
	}
	if name != "" && w.Name != name {
		t.Fatalf("welcome name = %q, want %q", w.Name, name)
	}
	c.id = w.ID
	return c
}

type node struct{ ID, Name, Channel, Role string }

func decodeClients(t *testing.T, p json.RawMessage) []node {
	t.Helper()
	var v struct{ Clients []node }
	if err := json.Unmarshal(p, &v); err != nil {
		t.Fatalf("clients payload %s: %v", p, err)
	}
	return v.Clients
}

// nodes joins a throwaway global monitor and returns what get_nodes says.
func (r *testRelay) nodes(t *testing.T) []node {
	t.Helper()
	m := r.join(t, "probe-"+strings.ReplaceAll(time.Now().Format("150405.000000"), ".", ""), map[string]any{"can_monitor": true})
	defer m.ws.Close()
	return decodeClients(t, m.request("get_nodes", nil).Payload)
}

func findNode(list []node, name string) (node, bool) {
	for _, n := range list {
		if n.Name == name {
			return n, true
		}
	}
	return node{}, false
}

// waitMembers polls Stats until the member count is n.
func (r *testRelay) waitMembers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for r.srv.Stats().Members != n {
		if time.Now().After(deadline) {
			t.Fatalf("members = %d, want %d", r.srv.Stats().Members, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func payloadString(t *testing.T, p json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		t.Fatalf("payload %s: %v", p, err)
	}
	return m
}

func wantError(t *testing.T, f wire.Frame, msg string) {
	t.Helper()
	m := payloadString(t, f.Payload)
	if m["error"] != msg || m["status"] != "failed" {
		t.Fatalf("payload = %s, want error %q status failed", f.Payload, msg)
	}
}

func newHTTPTestServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }

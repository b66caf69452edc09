package relay

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// recvRaw reads one message and returns its top-level keys undecoded.
func (c *client) recvRaw(timeout time.Duration) (map[string]json.RawMessage, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	_, msg, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(msg, &m); err != nil || len(m) != 4 {
		c.t.Fatalf("relay frame %s: not a 4-key object", msg)
	}
	return m, nil
}

// The reference answers a request whose id is not a string with reply_to
// set to that id verbatim (found by a differential run against the Python
// 0.2.0 relay: meshbox used to answer reply_to null, so a raw client that
// numbers its requests could not match the answers).
func TestNonStringIDEchoedAsReplyTo(t *testing.T) {
	r := startRelay(t, testConfig())
	a := r.join(t, "a", map[string]any{"channel": "x"})
	b := r.join(t, "b", map[string]any{"channel": "x"})
	for _, tc := range []struct{ frame, replyTo, payload string }{
		{`{"id":7,"type":"ping"}`, `7`, `"pong"`},
		{`{"id": 1.5 ,"type":"route_msg","payload":{"target_id":"nope","type":"x"}}`, `1.5`, `{"error":"Target not found","status":"failed"}`},
		{`{"id":"","type":"ping"}`, `""`, `"pong"`},
		{`{"id":[1, {"k":true}],"type":"ping"}`, `[1,{"k":true}]`, `"pong"`},
		{`{"type":"ping"}`, `null`, `"pong"`},
		{`{"id":null,"type":"ping","reply_to":null}`, `null`, `"pong"`},
	} {
		a.sendRaw([]byte(tc.frame))
		m, err := a.recvRaw(3 * time.Second)
		if err != nil {
			t.Fatalf("%s: %v", tc.frame, err)
		}
		if string(m["reply_to"]) != tc.replyTo || string(m["payload"]) != tc.payload {
			t.Errorf("%s: reply_to %s payload %s, want %s %s", tc.frame, m["reply_to"], m["payload"], tc.replyTo, tc.payload)
		}
	}
	// The routed path answers later, from the target's reply.
	a.sendRaw([]byte(`{"id":42,"type":"route_msg","payload":{"target_id":"` + b.id + `","type":"echo","payload":{"v":1}}}`))
	f := b.recvType("echo")
	b.sendFrame(map[string]any{"id": "rb", "type": "echo", "payload": map[string]any{"echoed": 1}, "reply_to": f.ID})
	m, err := a.recvRaw(3 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(m["type"]) != `"route_msg"` || string(m["reply_to"]) != `42` || string(m["payload"]) != `{"echoed":1}` {
		t.Fatalf("routed answer %s %s %s", m["type"], m["reply_to"], m["payload"])
	}
}

// A truthy reply_to makes a frame a reply even when it is not a string: it
// matches no pending request and is dropped, as in the reference; falsy
// reply_to values (null, false, 0, "", [], {}) leave it a request.
func TestTruthyNonStringReplyToIsAReply(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.join(t, "c", nil)
	for _, rt := range []string{`5`, `true`, `{"a":1}`, `[0]`, `-0.5`, `1e400`} {
		c.sendRaw([]byte(`{"id":"drop","type":"ping","reply_to":` + rt + `}`))
	}
	for i, rt := range []string{`0`, `false`, `""`, `[]`, `{}`, `0.0`, ` null `} {
		c.sendRaw([]byte(`{"id":"keep` + string(rune('0'+i)) + `","type":"ping","reply_to":` + rt + `}`))
	}
	// A nested "reply_to" in the payload must not change anything.
	c.sendRaw([]byte(`{"id":"nested","type":"ping","payload":{"reply_to":5},"reply_to":null}`))
	want := []string{"keep0", "keep1", "keep2", "keep3", "keep4", "keep5", "keep6", "nested"}
	for _, id := range want {
		f, err := c.recv(3 * time.Second)
		if err != nil {
			t.Fatalf("waiting for %s: %v", id, err)
		}
		if f.ReplyTo != id || string(f.Payload) != pong {
			t.Fatalf("got reply_to %q payload %s, want the answer to %s (the truthy ones must be dropped)", f.ReplyTo, f.Payload, id)
		}
	}
	if st := r.srv.Stats(); st.Ignored < 6 {
		t.Fatalf("ignored = %d, want ≥ 6", st.Ignored)
	}
}

// Before admission too: an identify that carries a reply_to is a reply and
// is ignored (the reference drops it and waits for a real identify).
func TestIdentifyWithReplyToIsIgnored(t *testing.T) {
	r := startRelay(t, testConfig())
	c := r.dial(t, "/", nil)
	c.sendFrame(map[string]any{"id": "i1", "type": "identify", "payload": map[string]any{"name": "late", "token": testToken}, "reply_to": "x"})
	c.sendFrame(map[string]any{"id": "i2", "type": "identify", "payload": map[string]any{"name": "late", "token": testToken}, "reply_to": 3})
	if f, err := c.recv(300 * time.Millisecond); err == nil {
		t.Fatalf("got %+v, want nothing for an identify with reply_to", f)
	} else if ne, ok := err.(interface{ Timeout() bool }); !ok || !ne.Timeout() {
		t.Fatalf("read: %v", err)
	}
	// The read deadline poisoned this gorilla conn; a fresh socket joins.
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	r.join(t, "late", nil)
}

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{`{"id":7,"type":"ping"}`, `{"id":"a","type":"ping","reply_to":5}`, `{"reply_to" : [ ] }`,
		`{"id":{"x":"reply_to"},"type":"t","payload":{"reply_to":1},"reply_to":""}`, `[1]`, `{"reply_to":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		in, err := decodeFrame(msg)
		if err != nil {
			return
		}
		if in.rawID != nil && !json.Valid(in.rawID) {
			t.Fatalf("rawID %q is not JSON", in.rawID)
		}
		if in.ReplyTo != "" && !in.isReply {
			t.Fatal("a non-empty string reply_to must be a reply")
		}
		s := &Server{ids: newIDGen()}
		if out := s.replyFrame(in, []byte(`1`)); !json.Valid(out) {
			t.Fatalf("reply %q is not JSON", out)
		}
	})
}

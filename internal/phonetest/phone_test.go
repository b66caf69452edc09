package phonetest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/wire"
)

// fakeRelay is a minimal relay: it checks the token, sends a frame before
// welcome, echoes every broadcast_request as a broadcast, and closes with
// 1001 on "bye".
type fakeRelay struct {
	url        string
	identified chan map[string]any
}

func startFakeRelay(t *testing.T) *fakeRelay {
	r := &fakeRelay{identified: make(chan map[string]any, 8)}
	up := websocket.Upgrader{}
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, err := up.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		defer c.Close()
		send := func(typ string, payload any) {
			raw, _ := json.Marshal(payload)
			_ = c.WriteMessage(websocket.TextMessage, wire.Encode(wire.Frame{ID: wire.NewID(), Type: typ, Payload: raw}))
		}
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		f, _ := wire.Decode(msg)
		var id map[string]any
		_ = json.Unmarshal(f.Payload, &id)
		r.identified <- id
		if id["token"] != "good" {
			_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "bad token"))
			return
		}
		send("roster", map[string]any{})
		send("welcome", map[string]any{"id": "u-1", "name": id["name"]})
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			f, _ := wire.Decode(msg)
			switch f.Type {
			case "broadcast_request":
				_ = c.WriteMessage(websocket.TextMessage, wire.Encode(wire.Frame{ID: wire.NewID(), Type: "broadcast", Payload: f.Payload}))
			case "bye":
				_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""))
				return
			default: // echo as is
				_ = c.WriteMessage(websocket.TextMessage, msg)
			}
		}
	}))
	t.Cleanup(func() { srv.Close(); wg.Wait() })
	r.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	return r
}

func TestIdentifyAndExpect(t *testing.T) {
	r := startFakeRelay(t)
	p := Dial(t, r.url, App("iPhone", "good"))
	want := map[string]any{"name": "iPhone", "token": "good", "channel": "home", "role": "controller", "can_broadcast": true}
	if id := <-r.identified; !reflect.DeepEqual(id, want) {
		t.Errorf("identify = %v, want %v", id, want)
	}
	if p.Welcome().Type != "welcome" || p.Name() != "iPhone" {
		t.Errorf("welcome %v name %q", p.Welcome(), p.Name())
	}
	if f := p.Recv(time.Second); f.Type != "roster" {
		t.Errorf("the frame before welcome is lost: got %v", f.Type)
	}

	p.Cmd("fan", true)
	p.CmdAck("lamp", "true", "c-1")
	p.BroadcastJSON(`{"msg_type":"state","target":"lamp","value":true}`)
	p.Send("ping", map[string]any{"n": 1})
	// The cmd for the fan is skipped; the lamp's is matched with its ack fields.
	got := p.ExpectBroadcast(Msg("cmd", "target", "lamp"), time.Second)
	if got["_cmd"] != "c-1" || got["_from"] != "iPhone" || got["value"] != "true" {
		t.Errorf("CmdAck sent %v", got)
	}
	if st := p.ExpectState("lamp", time.Second); st["value"] != true {
		t.Errorf("state %v", st)
	}
	if f := p.Expect("ping", time.Second); string(f.Payload) != `{"n":1}` {
		t.Errorf("ping payload %s", f.Payload)
	}

	p.Send("bye", nil)
	var ce *websocket.CloseError
	if err := p.WaitClosed(time.Second); !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("WaitClosed = %v, want close 1001", err)
	}
}

func TestRefusedAndOmittedFields(t *testing.T) {
	r := startFakeRelay(t)
	_, err := TryDial(t, r.url, Options{Name: "intruder", Token: "nope"})
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("TryDial = %v, want close 1008", err)
	}
	if id := <-r.identified; !reflect.DeepEqual(id, map[string]any{"name": "intruder", "token": "nope"}) {
		t.Errorf("empty options were sent: %v", id)
	}
}

func TestMatch(t *testing.T) {
	m := Msg("state", "target", "lamp", "value", 30.0)
	for _, c := range []struct {
		p    map[string]any
		want bool
	}{
		{map[string]any{"msg_type": "state", "target": "lamp", "value": 30.0, "v": 2.0}, true},
		{map[string]any{"msg_type": "state", "target": "lamp", "value": 31.0}, false},
		{map[string]any{"msg_type": "state", "target": "lamp"}, false},
		{map[string]any{"msg_type": "cmd", "target": "lamp", "value": 30.0}, false},
	} {
		if got := m.Matches(c.p); got != c.want {
			t.Errorf("%v.Matches(%v) = %v", m, c.p, got)
		}
	}
	if !(Match{"to": nil}).Matches(map[string]any{"msg_type": "x"}) {
		t.Error("a nil value does not match a missing key")
	}
}

// fatalTB records a Fatalf and ends the goroutine like testing.T does.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, a ...any) {
	f.mu.Lock()
	f.msg = format
	f.mu.Unlock()
	runtime.Goexit()
}

func TestExpectTimesOutAndSeesTheEnd(t *testing.T) {
	r := startFakeRelay(t)
	p := Dial(t, r.url, App("iPhone", "good"))
	ftb := &fatalTB{TB: t}
	p.t = ftb
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.ExpectState("nothing", 50*time.Millisecond)
		t.Error("ExpectState returned without a match")
	}()
	<-done
	if !strings.Contains(ftb.msg, "no %s") {
		t.Errorf("timeout not reported: %q", ftb.msg)
	}
	p.Send("bye", nil)
	if err := p.WaitClosed(time.Second); err == nil {
		t.Fatal("no close error")
	}
	// The connection is gone: Next reports why instead of waiting.
	if _, err := p.Next(context.Background()); err == nil {
		t.Error("Next on an ended connection returned a frame")
	}
}

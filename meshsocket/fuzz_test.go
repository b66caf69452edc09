package meshsocket

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
)

// FuzzReplayParse feeds arbitrary bytes to the spill-file parser (it reads
// a file that may be torn or tampered with).
func FuzzReplayParse(f *testing.F) {
	f.Add([]byte(`{"id":"a","type":"t","payload":{"n":1},"reply_to":null}` + "\n"))
	f.Add([]byte("garbage\n[1]\n{\"id\":1,\"type\":\"x\"}\n{\"id\":\"f\",\"type\":\"identify\"}\n{\"id\":\"a\",\"type\":\"t\",\"pay"))
	f.Add([]byte(`{"id":"w","type":"welcome","payload":{"id":"x"}}` + "\r\n\n" + `{"id":"\u00e9","type":"<&>","payload":"\ud800"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, dropped := parseSpill(data)
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(frames)+dropped != lines {
			t.Fatalf("%d frames + %d dropped != %d non-empty lines", len(frames), dropped, lines)
		}
		for _, sp := range frames {
			if sp.frame.ID == "" || sp.frame.Type == "" || sp.frame.Type == "identify" || sp.frame.Type == "welcome" {
				t.Fatalf("invalid frame kept: %+v", sp.frame)
			}
			if bytes.ContainsAny(sp.msg, "\n\r") {
				t.Fatalf("replayed message spans lines: %q", sp.msg)
			}
			back, err := wire.Decode(sp.msg)
			if err != nil || back.ID != sp.frame.ID || back.Type != sp.frame.Type || !bytes.Equal(back.Payload, sp.frame.Payload) {
				t.Fatalf("re-encoding changed the frame: %q -> %+v (%v)", sp.msg, back, err)
			}
		}
	})
}

// FuzzInboundFrame sends one arbitrary message from the "relay" to an
// admitted client; the client must survive it, never emit invalid JSON, and
// still answer a ping afterwards.
func FuzzInboundFrame(f *testing.F) {
	f.Add([]byte(`{"id":"1","type":"ping","payload":null,"reply_to":null}`))
	f.Add([]byte(`{"id":"2","type":"echo","payload":{"a":[1,2,{"b":null}]}}`))
	f.Add([]byte(`{"id":"3","type":"welcome","payload":{"id":"evil"}}`))
	f.Add([]byte(`{"id":"4","type":"handshake","payload":{"t":"x"}}`))
	f.Add([]byte(`{"id":"5","type":"status_request","reply_to":"nobody"}`))
	f.Add([]byte(`[{"id":1}]`))
	f.Add([]byte(`{"id":"6","type":"echo","payload":1e999}`))
	f.Add([]byte("\xff\xfe{"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		cli, rel := newMemPair()
		fr := &fakeRelay{t: t, end: rel}
		c, err := New(Options{Name: "fz", NoReconnect: true, MaxInflight: 4,
			Dial: func(context.Context) (wire.Transport, error) { return cli, nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.On("echo", func(_ context.Context, f Frame) (any, error) { return f.Payload, nil })
		started := make(chan error, 1)
		go func() { started <- c.Start(context.Background()) }()
		fr.read()
		fr.welcome("srv")
		if err := <-started; err != nil {
			t.Fatal(err)
		}
		_ = rel.WriteMessage(context.Background(), msg)
		fr.send(wire.Frame{ID: "probe", Type: "ping"})
		deadline := time.After(5 * time.Second)
		for {
			var m []byte
			select {
			case m = <-rel.rx:
			case <-deadline:
				t.Fatal("no pong after the fuzzed frame")
			}
			if !json.Valid(m) {
				t.Fatalf("client emitted invalid JSON %q", m)
			}
			if out, _ := wire.Decode(m); out.ReplyTo == "probe" {
				if string(out.Payload) != `"pong"` {
					t.Fatalf("probe answered %s", out.Payload)
				}
				return
			}
		}
	})
}

package links

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/meshbox/meshbox/internal/wire"
)

func frame(typ, payload, replyTo string) []byte {
	return wire.Encode(wire.Frame{ID: "f1", Type: typ, Payload: json.RawMessage(payload), ReplyTo: replyTo})
}

func payloadOf(t *testing.T, msg []byte) map[string]any {
	t.Helper()
	f, err := wire.Decode(msg)
	if err != nil {
		t.Fatalf("decode %s: %v", msg, err)
	}
	var m map[string]any
	if err := json.Unmarshal(f.Payload, &m); err != nil {
		t.Fatalf("payload %s: %v", f.Payload, err)
	}
	return m
}

func TestInboundAcceptsOnlyOwnPrefix(t *testing.T) {
	n := newNamespace("garage.")
	cases := []struct {
		payload string
		keep    bool
		want    string // payload after rewrite, when kept
	}{
		{`{"msg_type":"cmd","target":"garage.lamp","value":true,"_cmd":"k"}`, true, `{"msg_type":"cmd","target":"lamp","value":true,"_cmd":"k"}`},
		{`{"msg_type":"cmd","target":"kitchen.lamp","value":true}`, false, ""},
		{`{"msg_type":"cmd","target":"lamp","value":true}`, false, ""},
		{`{"msg_type":"set","key":"garage.dimmer","value":40}`, true, `{"msg_type":"set","key":"dimmer","value":40}`},
		{`{"msg_type":"command","command":"pulse","target":"garage.door"}`, true, `{"msg_type":"command","command":"pulse","target":"door"}`},
		{`{"msg_type":"command","command":"all_off"}`, true, `{"msg_type":"command","command":"all_off"}`},
		{`{"msg_type":"command","command":"reset","target":"garage"}`, true, `{"msg_type":"command","command":"reset"}`},
		{`{"msg_type":"command","command":"reset"}`, false, ""},
		{`{"msg_type":"control_sync_request","from":"iPhone"}`, true, `{"msg_type":"control_sync_request","from":"iPhone"}`},
		// Not for the bridge (other boxes' states, own echoes): dropped
		// before the client's handler queue.
		{`{"msg_type":"state","target":"kitchen.lamp","value":true}`, false, ""},
		{`{"msg_type":"metrics","source":"garage.climate","garage.t":1}`, false, ""},
		{`{"msg_type":"cmd","target":7}`, false, ""},
	}
	for _, c := range cases {
		out, keep := n.inbound(frame("broadcast", c.payload, ""))
		if keep != c.keep {
			t.Errorf("inbound %s: keep = %v, want %v", c.payload, keep, c.keep)
			continue
		}
		if !keep {
			continue
		}
		var want map[string]any
		json.Unmarshal([]byte(c.want), &want)
		if got := payloadOf(t, out); !reflect.DeepEqual(got, want) {
			t.Errorf("inbound %s\n got %v\nwant %v", c.payload, got, want)
		}
	}
}

func TestRoutedFramesAndReplies(t *testing.T) {
	n := newNamespace("garage.")
	// A routed set_<prefixed id> reaches the bridge as set_<id>.
	out, keep := n.inbound(wire.Encode(wire.Frame{ID: "r1", Type: "set_garage.lamp", Payload: json.RawMessage(`{"value":true}`)}))
	f, _ := wire.Decode(out)
	if !keep || f.Type != "set_lamp" {
		t.Fatalf("routed set: keep %v type %q", keep, f.Type)
	}
	// Routed frames need no prefix.
	out, keep = n.inbound(wire.Encode(wire.Frame{ID: "r2", Type: "cmd", Payload: json.RawMessage(`{"target":"lamp","value":false}`)}))
	if !keep || payloadOf(t, out)["target"] != "lamp" {
		t.Fatalf("routed cmd: %v %s", keep, out)
	}
	out, _ = n.inbound(wire.Encode(wire.Frame{ID: "r3", Type: "get_state", Payload: json.RawMessage(`{"ids":["garage.lamp","fan"]}`)}))
	if ids := payloadOf(t, out)["ids"]; !reflect.DeepEqual(ids, []any{"lamp", "fan"}) {
		t.Errorf("get_state ids = %v", ids)
	}
	// (Replies are prefixed by the bridge's member: see package bridge.)
}

func TestInboundWithoutPrefix(t *testing.T) {
	n := newNamespace("")
	for _, c := range []struct {
		payload string
		keep    bool
	}{
		{`{"msg_type":"cmd","target":"lamp","value":true}`, true},
		{`{"msg_type":"control_sync_request","from":"x"}`, true},
		// Plain ids: the hub on that relay hears the boxes linked there.
		{`{"msg_type":"state","target":"garage.lamp","value":true}`, true},
		{`{"msg_type":"command_ack","cmd_id":"1","ok":true}`, true},
		{`{"msg_type":"box_announce","box":"garage","prefix":"garage."}`, true},
		{`{"msg_type":"chat_message","text":"hi"}`, false},
		{`{"msg_type":"notify","text":"x"}`, false},
	} {
		in := frame("broadcast", c.payload, "")
		out, keep := n.inbound(in)
		if keep != c.keep || (keep && string(out) != string(in)) {
			t.Errorf("inbound %s: keep %v out %s", c.payload, keep, out)
		}
	}
	routed := wire.Encode(wire.Frame{ID: "r1", Type: "set_lamp", Payload: json.RawMessage(`{"value":true}`)})
	if out, keep := n.inbound(routed); !keep || string(out) != string(routed) {
		t.Errorf("routed frame rewritten: %s", out)
	}
}

func FuzzInbound(f *testing.F) {
	f.Add(frame("broadcast", `{"msg_type":"cmd","target":"garage.lamp","value":true}`, ""))
	f.Add(frame("broadcast", `{"msg_type":"command","command":"all_off"}`, ""))
	f.Add(frame("set_garage.x", `{"value":1}`, ""))
	f.Add(frame("get_state", `{"ids":["garage.a"]}`, ""))
	f.Add([]byte(`{"type":"broadcast","payload":[1,2]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		n := newNamespace("garage.")
		out, keep := n.inbound(msg)
		if !keep {
			return
		}
		if _, err := wire.Decode(msg); err == nil {
			if _, err := wire.Decode(out); err != nil {
				t.Fatalf("kept frame no longer decodes: %s -> %s: %v", msg, out, err)
			}
		}
	})
}

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

func TestOutboundPrefixesIDs(t *testing.T) {
	n := newNamespace("garage.")
	cases := []struct{ in, want string }{
		{`{"msg_type":"state","target":"lamp","value":true}`, `{"msg_type":"state","target":"garage.lamp","value":true}`},
		{`{"msg_type":"input","target":"button","edge":"rising"}`, `{"msg_type":"input","target":"garage.button","edge":"rising"}`},
		{`{"msg_type":"metrics","source":"climate","climate_temperature":21.5,"climate_humidity":40}`,
			`{"msg_type":"metrics","source":"garage.climate","garage.climate_temperature":21.5,"garage.climate_humidity":40}`},
		{`{"msg_type":"sensor_error","source":"light","error":"x","retry_ms":100}`, `{"msg_type":"sensor_error","source":"garage.light","error":"x","retry_ms":100}`},
		{`{"msg_type":"control_snapshot","to":"iPhone","v":3,"controls":{"lamp":false,"cpu_temp":null}}`,
			`{"msg_type":"control_snapshot","to":"iPhone","v":3,"controls":{"garage.lamp":false,"garage.cpu_temp":null}}`},
		{`{"msg_type":"command_ack","cmd_id":"k1","to":"iPhone","ok":true}`, `{"msg_type":"command_ack","cmd_id":"k1","to":"iPhone","ok":true}`},
	}
	for _, c := range cases {
		got := payloadOf(t, n.outbound(frame("broadcast_request", c.in, "")))
		var want map[string]any
		json.Unmarshal([]byte(c.want), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("outbound %s\n got %v\nwant %v", c.in, got, want)
		}
	}
	// Other frames (identify, replies to the relay) pass untouched.
	id := frame("identify", `{"name":"garage","token":"t"}`, "")
	if got := n.outbound(id); string(got) != string(id) {
		t.Errorf("identify rewritten: %s", got)
	}
	// No prefix: verbatim.
	raw := frame("broadcast_request", `{"msg_type":"state","target":"lamp","value":true}`, "")
	if got := newNamespace("").outbound(raw); string(got) != string(raw) {
		t.Errorf("empty prefix rewrote %s", got)
	}
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
		{`{"msg_type":"state","target":"kitchen.lamp","value":true}`, true, `{"msg_type":"state","target":"kitchen.lamp","value":true}`},
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
	// Replies to them are prefixed; a reply to anything else is not.
	rep := payloadOf(t, n.outbound(frame("set_lamp", `{"ok":true,"target":"lamp","state":true}`, "r1")))
	if rep["target"] != "garage.lamp" {
		t.Errorf("reply target = %v", rep["target"])
	}
	rep = payloadOf(t, n.outbound(frame("get_state", `{"ok":true,"values":{"lamp":true}}`, "r3")))
	if v, _ := rep["values"].(map[string]any); v["garage.lamp"] != true {
		t.Errorf("reply values = %v", rep["values"])
	}
	rep = payloadOf(t, n.outbound(frame("set_lamp", `{"ok":true,"target":"lamp"}`, "r1"))) // answered already
	if rep["target"] != "lamp" {
		t.Errorf("second reply to r1 rewritten: %v", rep)
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
		// Whatever came in, what goes out is a frame or the input itself.
		_ = n.outbound(out)
	})
}

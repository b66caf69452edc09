package bridge

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestFramePrefixesIDs: an upstream member sends every control id with its
// prefix (the encoding the upstream link used to do by re-parsing JSON).
func TestFramePrefixesIDs(t *testing.T) {
	b, _ := newTest(t, testConfig(t.TempDir()), newFakeHost(), Options{})
	cases := []struct {
		ev   Event
		want string
	}{
		{Event{Kind: EventState, ID: "relay1", Value: true}, `{"msg_type":"state","target":"garage.relay1","value":true}`},
		{Event{Kind: EventMetrics, Source: "climate", Fields: map[string]any{"climate_temperature": 21.5, "climate_humidity": 40.0}},
			`{"msg_type":"metrics","source":"garage.climate","garage.climate_temperature":21.5,"garage.climate_humidity":40,"garage":{"climate_temperature":21.5,"climate_humidity":40}}`},
		{Event{Kind: EventSensorError, Source: "light", Err: "x", RetryMs: 100}, `{"msg_type":"sensor_error","source":"garage.light","error":"x","retry_ms":100}`},
		{Event{Kind: EventSnapshot, To: "iPhone", V: 3, Controls: map[string]any{"lamp": false, "cpu_temp": nil}},
			`{"msg_type":"control_snapshot","to":"iPhone","v":3,"controls":{"garage.lamp":false,"garage.cpu_temp":null}}`},
		{Event{Kind: EventAck, CmdID: "k1", To: "iPhone", OK: true}, `{"msg_type":"command_ack","cmd_id":"k1","to":"iPhone","ok":true}`},
		{Event{Kind: EventAck, CmdID: "k2", OK: false, Err: "busy"}, `{"msg_type":"command_ack","cmd_id":"k2","ok":false,"error":"busy"}`},
	}
	for _, c := range cases {
		raw, ok := b.Frame(c.ev, "garage.")
		if !ok {
			t.Errorf("%v: not sent", c.ev.Kind)
			continue
		}
		var got, want map[string]any
		json.Unmarshal(raw, &got)
		json.Unmarshal([]byte(c.want), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v\n got %s\nwant %s", c.ev.Kind, raw, c.want)
		}
	}
	// No prefix: plain ids; the snapshot's map is the event's own.
	raw, _ := b.Frame(Event{Kind: EventState, ID: "relay1", Value: false}, "")
	if string(raw) != `{"msg_type":"state","target":"relay1","value":false}` {
		t.Errorf("plain state = %s", raw)
	}
	// A notification (automations) is a notify frame.
	if raw, ok := b.Frame(Event{Kind: EventNotify, Source: "door_left_open", Text: "open"}, "garage."); !ok ||
		string(raw) != `{"msg_type":"notify","source":"garage.door_left_open","text":"open"}` {
		t.Errorf("notify frame = %s %v", raw, ok)
	}
	// Not sent: the edges of an input whose broadcast is not "event".
	if _, ok := b.Frame(Event{Kind: EventInput, ID: "button", Edge: "rising"}, ""); ok {
		t.Error("input edge sent for a broadcast: state input")
	}
}

func TestMemberPrefixesRoutedReplies(t *testing.T) {
	m := &Member{prefix: "garage."}
	rep := m.prefixReply(map[string]any{"ok": true, "target": "lamp", "state": true}).(map[string]any)
	if rep["target"] != "garage.lamp" {
		t.Errorf("reply target = %v", rep["target"])
	}
	rep = m.prefixReply(map[string]any{"ok": true, "values": map[string]any{"lamp": true}}).(map[string]any)
	if v := rep["values"].(map[string]any); v["garage.lamp"] != true || len(v) != 1 {
		t.Errorf("reply values = %v", rep["values"])
	}
	rep = m.prefixReply(map[string]any{"ok": false, "error": "unknown target"}).(map[string]any)
	if _, ok := rep["target"]; ok {
		t.Errorf("error reply got a target: %v", rep)
	}
}

package relay

import (
	"encoding/json"
	"testing"
)

// FuzzIdentify feeds arbitrary identify payloads: parseIdentify must never
// panic, and whatever it admits must satisfy the grammar and sanitising rules.
func FuzzIdentify(f *testing.F) {
	for _, s := range []string{`{"name":"phone","token":"tok","channel":"home","role":"viewer"}`,
		`{"name":"190003614929046.hub","auth_token":"tok","can_monitor":"yes","broadcast_scope":"global"}`,
		`{"name":null}`, `[1]`, `null`, `{"name":"a","channel":""}`, `{"token":"tok"}`,
		`{"name":"a","token":"tok","role":["x"],"can_broadcast":1,"broadcast_scope":"everything"}`} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`{"name":"q"}`), "tok")
	cfg := DefaultConfig()
	cfg.AuthToken = "tok"
	p := newPolicy(&cfg)
	f.Fuzz(func(t *testing.T, payload []byte, query string) {
		id, why := parseIdentify(payload, query, p, func() string { return "Client-1" })
		if why != "" {
			return
		}
		if !validIdent(id.name) && id.name != "Client-1" {
			t.Fatalf("admitted name %q", id.name)
		}
		if !validIdent(id.channel) {
			t.Fatalf("admitted channel %q", id.channel)
		}
		if id.role == "" || len([]rune(id.role)) > 64 {
			t.Fatalf("role %q", id.role)
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(payload, &m)
		tok, _ := jsonString(m["token"])
		atok, _ := jsonString(m["auth_token"])
		if tok != "tok" && atok != "tok" && query != "tok" {
			t.Fatalf("admitted without the token: %s %q", payload, query)
		}
	})
}

// FuzzParseRoute: route payloads never panic and a parsed route has a type
// and a target.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{`{"target_id":"x","type":"t","payload":{"a":1}}`, `{"target_name":"n","type":"t"}`,
		`[1]`, `"str"`, `{"target_id":[1],"type":"x"}`, `{"target_id":null,"target_name":"n","type":"t"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		rt, ok := parseRoute(p)
		if !ok {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(p, &m) != nil {
			t.Fatalf("accepted non-object %q", p)
		}
		if _, ok := jsonString(m["type"]); !ok {
			t.Fatalf("accepted without a string type: %s", p)
		}
		if rt.payload != nil && !json.Valid(rt.payload) {
			t.Fatalf("invalid inner payload %q", rt.payload)
		}
	})
}

// FuzzCommandShaped: the viewer's command filter never panics, and what it
// calls a command has msg_type cmd, set or command.
func FuzzCommandShaped(f *testing.F) {
	for _, s := range []string{`{"msg_type":"cmd","target":"x","_cmd":"c1"}`, `{"msg_type":"set","_cmd":5}`,
		`{"msg_type":"control_sync_request"}`, `[1]`, `"cmd"`, `{"msg_type":["cmd"]}`, `{"msg_type":"command","_cmd":"\u00e9"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		id, ok := commandShaped(p)
		_ = payloadCmdID(p)
		if !ok {
			return
		}
		var m struct {
			MsgType string `json:"msg_type"`
		}
		if json.Unmarshal(p, &m) != nil || (m.MsgType != "cmd" && m.MsgType != "set" && m.MsgType != "command") {
			t.Fatalf("%q called a command (id %q)", p, id)
		}
	})
}

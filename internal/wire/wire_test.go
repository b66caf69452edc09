package wire

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestDecodeEncode(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{`{"id":"1","type":"ping","payload":null,"reply_to":null}`, `{"id":"1","type":"ping","payload":null,"reply_to":null}`},
		{`{"type":"x"}`, `{"id":"","type":"x","payload":null,"reply_to":null}`},
		{` {"id":5,"type":"t","payload":{"ts_ms":1712345678901234567},"reply_to":"r"} `, `{"id":"","type":"t","payload":{"ts_ms":1712345678901234567},"reply_to":"r"}`},
		{`{"id":"<&>","type":"é","payload":[1,"a"]}`, `{"id":"\u003c\u0026\u003e","type":"é","payload":[1,"a"],"reply_to":null}`},
	} {
		f, err := Decode([]byte(tc.in))
		if err != nil {
			t.Fatalf("Decode(%s): %v", tc.in, err)
		}
		if got := string(Encode(f)); got != tc.out {
			t.Errorf("Encode(Decode(%s)) = %s, want %s", tc.in, got, tc.out)
		}
	}
	for _, bad := range []string{"", "[1]", "5", "null", "{", `{"id":}`, "\xff"} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

func TestAppendFrame(t *testing.T) {
	b := AppendFrame(nil, func(d []byte) []byte { return append(d, "abc"...) }, "t\"x", []byte(`{"a":1}`), "r")
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["id"] != "abc" || m["type"] != "t\"x" || m["reply_to"] != "r" {
		t.Fatalf("%s %v", b, err)
	}
}

// FuzzDecode: arbitrary bytes never panic; a decoded frame re-encodes to
// valid JSON that decodes to the same frame.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"id":"1","type":"ping","payload":null,"reply_to":null}`,
		`{"type":"broadcast_request","payload":{"msg_type":"metrics","t":21.5}}`,
		`{"id":"x","type":"route_msg","payload":{"target_id":"b1","type":"echo_test","payload":{"data":"hi"}},"reply_to":"r1"}`,
		`[1]`, `"s"`, `{"id":"\u00e9\ud83e\udd86","type":null}`, `{"payload":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if err != nil {
			return
		}
		enc := Encode(fr)
		if !json.Valid(enc) {
			t.Fatalf("Encode gave invalid JSON %q from %q", enc, b)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.ID != fr.ID || again.Type != fr.Type || again.ReplyTo != fr.ReplyTo || !bytes.Equal(again.Payload, fr.Payload) {
			t.Fatalf("round trip %+v != %+v", again, fr)
		}
	})
}

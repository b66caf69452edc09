package e2ee

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzEnvelope: any input either fails to parse or round-trips through the
// canonical form to the same envelope; opening never panics and a frame
// that does not open leaves no state behind.
func FuzzEnvelope(f *testing.F) {
	f.Add([]byte(`{"e2ee":2,"s":"AgICAgICAgICAgICAgICAg==","n":0,"ct":"pFc43+GgSzwf+XW0owEzh57qjImojP74Q8LgUHZmL28yT+tl"}`))
	f.Add([]byte(`{"e2ee":2.0,"s":"AgICAgICAgICAgICAgICAg==","n":18446744073709551615,"ct":"AAAAAAAAAAAAAAAAAAAAAA==","x":1}`))
	f.Add([]byte(`{"e2ee":1,"n":0,"ct":"AAAA"}`))
	f.Add([]byte(`{"msg_type":"state","target":"a","value":true}`))
	f.Add([]byte(`{"e2ee":2,"e2ee":2,"s":"","n":00,"ct":null}`))
	var key Key
	for i := range key {
		key[i] = 1
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnvelope(data)
		if err != nil {
			if !errors.Is(err, ErrNotEnvelope) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			if errors.Is(err, ErrMalformed) && !IsEnvelope(data) {
				t.Fatalf("ErrMalformed for a non-envelope %q", data)
			}
			return
		}
		if !IsEnvelope(data) {
			t.Fatalf("parsed but IsEnvelope false: %q", data)
		}
		canon := e.AppendJSON(nil)
		e2, err := ParseEnvelope(canon)
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", canon, err)
		}
		if e2.Salt != e.Salt || e2.N != e.N || !bytes.Equal(e2.CT, e.CT) {
			t.Fatalf("round trip changed the envelope: %q -> %s", data, canon)
		}
		if !bytes.Equal(e2.AppendJSON(nil), canon) {
			t.Fatal("canonical form not stable")
		}
		o := NewOpener(key, InfoRoom, OpenerOptions{MaxSalts: 2, Retired: 2})
		if _, err := o.Open(data); err == nil {
			return // a valid envelope under the fuzz key: fine
		}
		if a, r := o.Tracked(); a != 0 || r != 0 {
			t.Fatalf("a frame that did not open left state (%d, %d)", a, r)
		}
	})
}

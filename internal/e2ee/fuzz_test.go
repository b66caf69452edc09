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

// FuzzStateFiles: the replay state file and the key file never crash the
// loader; what loads re-encodes to something that loads the same.
func FuzzStateFiles(f *testing.F) {
	f.Add([]byte(`{"v":1,"marks":[{"s":"AgICAgICAgICAgICAgICAg==","n":7},{"s":"AQEBAQEBAQEBAQEBAQEBAQ==","n":18446744073709551615}]}`))
	f.Add([]byte("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"))
	f.Add([]byte(`{"v":2,"marks":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, err := ParseKey(string(data)); err == nil {
			if k2, err := ParseKey(k.String()); err != nil || k2 != k {
				t.Fatalf("key round trip: %v", err)
			}
		}
		marks, err := DecodeMarks(data)
		if err != nil {
			return
		}
		again, err := DecodeMarks(EncodeMarks(marks))
		if err != nil || len(again) != len(marks) {
			t.Fatalf("marks round trip: %v", err)
		}
		for i := range marks {
			if again[i] != marks[i] {
				t.Fatalf("mark %d changed", i)
			}
		}
		o := NewOpener(Key{}, InfoRoom, OpenerOptions{MaxSalts: 4, Retired: 4})
		o.Restore(marks)
		if a, r := o.Tracked(); a > 4 || r > 4 {
			t.Fatalf("restore exceeded its bounds: %d %d", a, r)
		}
	})
}

package e2ee

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func testKey(t *testing.T) Key {
	t.Helper()
	k, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyParse(t *testing.T) {
	k := testKey(t)
	for _, s := range []string{k.String(), k.String() + "\n", " " + k.String()} {
		got, err := ParseKey(s)
		if err != nil || got != k {
			t.Fatalf("ParseKey(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "AAAA", k.String()[:20], "!" + k.String()[1:]} {
		if _, err := ParseKey(s); !errors.Is(err, ErrBadKey) {
			t.Fatalf("ParseKey(%q) err %v", s, err)
		}
	}
}

func TestFreshSaltPerSession(t *testing.T) {
	k := testKey(t)
	a, _ := NewRoom(k, nil, OpenerOptions{})
	b, _ := NewRoom(k, nil, OpenerOptions{})
	if a.Salt() == b.Salt() {
		t.Fatal("two sessions share a salt")
	}
	e1, _ := a.SealEnvelope([]byte(`{}`))
	e2, _ := a.SealEnvelope([]byte(`{}`))
	if e1.N != 0 || e2.N != 1 {
		t.Fatalf("counters %d %d", e1.N, e2.N)
	}
}

func TestRoomRoundTripAndOwnEcho(t *testing.T) {
	k := testKey(t)
	a, _ := NewRoom(k, nil, OpenerOptions{})
	b, _ := NewRoom(k, nil, OpenerOptions{})
	env, err := a.SealJSON(map[string]any{"msg_type": "cmd", "target": "r<1>", "value": true})
	if err != nil {
		t.Fatal(err)
	}
	if !IsEnvelope(env) || bytes.Contains(env, []byte("cmd")) {
		t.Fatalf("envelope %s", env)
	}
	pt, err := b.Open(env)
	if err != nil {
		t.Fatal(err)
	}
	if string(pt) != `{"msg_type":"cmd","target":"r<1>","value":true}` {
		t.Fatalf("plaintext %s", pt)
	}
	if _, err := b.Open(env); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := a.Open(env); !errors.Is(err, ErrOwn) {
		t.Fatalf("own: %v", err)
	}
	other, _ := NewRoom(testKey(t), nil, OpenerOptions{})
	if _, err := other.Open(env); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := b.Open(json.RawMessage(`{"msg_type":"cmd","target":"x","value":true}`)); !errors.Is(err, ErrNotEnvelope) {
		t.Fatalf("plaintext: %v", err)
	}
}

func sealAt(t *testing.T, s *Sealer, n uint64) []byte {
	t.Helper()
	s.next, s.done = n, false
	env, err := s.Seal([]byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestReplayWindow(t *testing.T) {
	k := testKey(t)
	s, _ := NewSealer(k, InfoRoom, nil)
	o := NewOpener(k, InfoRoom, OpenerOptions{})
	open := func(n uint64) error { _, err := o.Open(sealAt(t, s, n)); return err }
	steps := []struct {
		n  uint64
		ok bool
	}{
		{5, true}, {5, false}, {3, true}, {3, false}, {4, true}, {100, true},
		{37, true}, {36, false}, // 100-36 = 64: outside the window
		{99, true}, {99, false}, {101, true}, {5, false}, {math.MaxUint64, true}, {math.MaxUint64, false},
		{math.MaxUint64 - 63, true}, {math.MaxUint64 - 64, false},
	}
	for _, st := range steps {
		err := open(st.n)
		if st.ok && err != nil {
			t.Fatalf("n=%d refused: %v", st.n, err)
		}
		if !st.ok && !errors.Is(err, ErrReplay) {
			t.Fatalf("n=%d: err %v, want ErrReplay", st.n, err)
		}
	}
	// a forged envelope (wrong key) does not move the window
	bad, _ := NewSealer(testKey(t), InfoRoom, bytes.NewReader(func() []byte { x := s.Salt(); return x[:] }()))
	o2 := NewOpener(k, InfoRoom, OpenerOptions{})
	if _, err := o2.Open(sealAt(t, bad, 1000)); !errors.Is(err, ErrAuth) {
		t.Fatal(err)
	}
	if a, _ := o2.Tracked(); a != 0 {
		t.Fatalf("a forged envelope created state (%d salts)", a)
	}
	if _, err := o2.Open(sealAt(t, s, 10)); err != nil {
		t.Fatal(err)
	}
}

func TestBoundedSaltsAndRetired(t *testing.T) {
	k := testKey(t)
	o := NewOpener(k, InfoRoom, OpenerOptions{MaxSalts: 4, Retired: 8})
	var first []byte
	for i := 0; i < 20; i++ {
		s, _ := NewSealer(k, InfoRoom, nil)
		env := sealAt(t, s, 0)
		if i == 0 {
			first = env
		}
		if _, err := o.Open(env); err != nil {
			t.Fatal(err)
		}
		if a, r := o.Tracked(); a > 4 || r > 8 {
			t.Fatalf("tracked %d retired %d", a, r)
		}
	}
	// the first salt was retired and then forgotten (ring of 8 < 16 retired);
	// a fresh sender that got retired while still in the ring is refused
	s, _ := NewSealer(k, InfoRoom, nil)
	o2 := NewOpener(k, InfoRoom, OpenerOptions{MaxSalts: 1, Retired: 8})
	old := sealAt(t, s, 0)
	if _, err := o2.Open(old); err != nil {
		t.Fatal(err)
	}
	s2, _ := NewSealer(k, InfoRoom, nil)
	if _, err := o2.Open(sealAt(t, s2, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := o2.Open(old); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay after eviction: %v", err)
	}
	if _, err := o2.Open(sealAt(t, s, 1)); !errors.Is(err, ErrReplay) {
		t.Fatalf("retired salt: %v", err)
	}
	_ = first
}

func TestMarksSurviveRestart(t *testing.T) {
	k := testKey(t)
	s, _ := NewSealer(k, InfoRoom, nil)
	o := NewOpener(k, InfoRoom, OpenerOptions{MaxSalts: 1})
	seen := sealAt(t, s, 7)
	if _, err := o.Open(seen); err != nil {
		t.Fatal(err)
	}
	gone, _ := NewSealer(k, InfoRoom, nil)
	goneEnv := sealAt(t, gone, 0)
	o.Open(goneEnv)         // gone now tracked, s retired
	o.Open(sealAt(t, s, 8)) // refused (retired)
	if _, err := o.Open(seen); !errors.Is(err, ErrReplay) {
		t.Fatal(err)
	}
	blob := EncodeMarks(o.Marks())
	marks, err := DecodeMarks(blob)
	if err != nil {
		t.Fatal(err)
	}
	o2 := NewOpener(k, InfoRoom, OpenerOptions{MaxSalts: 4})
	o2.Restore(marks)
	for _, env := range [][]byte{seen, goneEnv, sealAt(t, s, 9)} {
		if _, err := o2.Open(env); !errors.Is(err, ErrReplay) {
			t.Fatalf("after restart: %v", err)
		}
	}
	if _, err := o2.Open(sealAt(t, gone, 1)); err != nil {
		t.Fatalf("live sender after restart: %v", err)
	}
	if _, err := DecodeMarks([]byte(`{"v":1,"marks":[{"s":"AAAA","n":1}]}`)); !errors.Is(err, ErrBadMarks) {
		t.Fatal(err)
	}
}

func TestSealerExhausted(t *testing.T) {
	s, _ := NewSealer(testKey(t), InfoRoom, rand.Reader)
	s.next = math.MaxUint64
	if _, err := s.Seal([]byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal([]byte(`{}`)); !errors.Is(err, ErrExhausted) {
		t.Fatal(err)
	}
}

func TestParseEnvelopeRejects(t *testing.T) {
	good := `{"e2ee":2,"s":"AgICAgICAgICAgICAgICAg==","n":0,"ct":"pFc43+GgSzwf+XW0owEzh57qjImojP74Q8LgUHZmL28yT+tl"}`
	if _, err := ParseEnvelope([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   string
		want error
	}{
		{`{"msg_type":"cmd"}`, ErrNotEnvelope},
		{`{"e2ee":1,"n":0,"ct":"AAAA"}`, ErrNotEnvelope},
		{`{"e2ee":"2","s":"AgICAgICAgICAgICAgICAg==","n":0,"ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`, ErrNotEnvelope},
		{`null`, ErrNotEnvelope},
		{`[1]`, ErrNotEnvelope},
		{`{"E2EE":2,"s":"AgICAgICAgICAgICAgICAg==","n":0,"ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`, ErrNotEnvelope},
		{`{"e2ee":2,"s":"AgIC","n":0,"ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`, ErrMalformed},
		{`{"e2ee":2,"s":"AgICAgICAgICAgICAgICAg==","n":-1,"ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`, ErrMalformed},
		{`{"e2ee":2,"s":"AgICAgICAgICAgICAgICAg==","n":1.0,"ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`, ErrMalformed},
		{`{"e2ee":2,"s":"AgICAgICAgICAgICAgICAg==","n":"1","ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`, ErrMalformed},
		{`{"e2ee":2,"s":"AgICAgICAgICAgICAgICAg==","n":18446744073709551616,"ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`, ErrMalformed},
		{`{"e2ee":2,"s":"AgICAgICAgICAgICAgICAg==","n":0,"ct":"AAAA"}`, ErrMalformed},
		{`{"e2ee":2,"s":"AgICAgICAgICAgICAgICAg==","n":0}`, ErrMalformed},
	} {
		if _, err := ParseEnvelope([]byte(c.in)); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.in, err, c.want)
		}
	}
}

package e2ee

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

type vectorFile struct {
	About  string `json:"about"`
	Derive []struct {
		Key, Salt, Info, Derived string
	} `json:"derive"`
	Vectors []struct {
		Info      string `json:"info"`
		Key       string `json:"key"`
		Salt      string `json:"salt"`
		N         uint64 `json:"n"`
		Plaintext string `json:"plaintext"`
		Envelope  string `json:"envelope"`
	} `json:"vectors"`
	Negative []struct {
		Name, Info, Key, Envelope string
	} `json:"negative"`
}

func loadVectors(t *testing.T, name string) vectorFile {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return f
}

func mustKey(t *testing.T, s string) Key {
	t.Helper()
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// checkVectors opens every vector with meshbox and re-seals its plaintext
// with the same salt and counter, which must give the same bytes.
func checkVectors(t *testing.T, f vectorFile) {
	for i, v := range f.Vectors {
		key := mustKey(t, v.Key)
		pt, err := NewOpener(key, v.Info, OpenerOptions{}).Open([]byte(v.Envelope))
		if err != nil {
			t.Fatalf("vector %d (%s n=%d): open: %v", i, v.Info, v.N, err)
		}
		if string(pt) != v.Plaintext {
			t.Fatalf("vector %d: plaintext %q, want %q", i, pt, v.Plaintext)
		}
		salt, _ := base64.StdEncoding.DecodeString(v.Salt)
		s, err := NewSealer(key, v.Info, bytes.NewReader(salt))
		if err != nil {
			t.Fatal(err)
		}
		s.next = v.N
		env, err := s.Seal([]byte(v.Plaintext))
		if err != nil {
			t.Fatal(err)
		}
		if string(env) != v.Envelope {
			t.Fatalf("vector %d: meshbox sealed\n%s\nwant\n%s", i, env, v.Envelope)
		}
	}
}

func TestCarterkitVectors(t *testing.T) {
	f := loadVectors(t, "carterkit-vectors.json")
	for _, d := range f.Derive {
		salt, _ := base64.StdEncoding.DecodeString(d.Salt)
		k, err := DeriveKey(mustKey(t, d.Key), salt, d.Info)
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.StdEncoding.EncodeToString(k); got != d.Derived {
			t.Fatalf("derive %s: %s, want %s", d.Info, got, d.Derived)
		}
	}
	checkVectors(t, f)
	if len(f.Negative) == 0 {
		t.Fatal("no negative vectors")
	}
	for _, n := range f.Negative {
		_, err := NewOpener(mustKey(t, n.Key), n.Info, OpenerOptions{}).Open([]byte(n.Envelope))
		if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: err %v, want ErrAuth or ErrMalformed", n.Name, err)
		}
	}
}

// TestMeshboxVectors checks the envelopes meshbox sealed that carterkit's
// reference implementation opened (testdata/meshbox-vectors.json records
// that run): meshbox still produces exactly them.
func TestMeshboxVectors(t *testing.T) {
	checkVectors(t, loadVectors(t, "meshbox-vectors.json"))
}

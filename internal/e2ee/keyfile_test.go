package e2ee

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, KeyFileName)
	f, created, err := OpenKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first open: %v created=%v", err, created)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	if d, _ := os.Stat(dir); d.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", d.Mode())
	}
	k := f.Key()
	if k.IsZero() {
		t.Fatal("zero key")
	}
	os.Chmod(path, 0o644)
	g, created, err := OpenKeyFile(path)
	if err != nil || created || g.Key() != k {
		t.Fatalf("reopen: %v %v", err, created)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("not tightened: %v", st.Mode())
	}
	var got []Key
	g.OnRotate(func(nk Key) { got = append(got, nk) })
	nk, err := g.Rotate()
	if err != nil || nk == k || g.Key() != nk || len(got) != 1 || got[0] != nk {
		t.Fatalf("rotate: %v", err)
	}
	data, _ := os.ReadFile(path)
	if strings.TrimSpace(string(data)) != nk.String() {
		t.Fatal("rotated key not written")
	}
	os.WriteFile(path, []byte("not a key\n"), 0o600)
	if _, _, err := OpenKeyFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("bad file: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "not a key\n" {
		t.Fatal("a bad key file was overwritten")
	}
}

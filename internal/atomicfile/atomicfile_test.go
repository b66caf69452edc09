package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "sub")
	p := filepath.Join(dir, "outputs.json")
	if err := WriteFile(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("content %q", b)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestWriteFilePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	p := filepath.Join(dir, "token")
	if err := WriteFile(p, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	ds, _ := os.Stat(dir)
	if ds.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", ds.Mode().Perm())
	}
}

// Concurrent writers never tear the file and never collide on the
// temporary name (each has its own).
func TestWriteFileConcurrent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := strings.Repeat(string(rune('a'+i)), 4096)
			for range 20 {
				if err := WriteFile(p, []byte(data), 0o600); err != nil {
					t.Error(err)
					return
				}
				b, err := os.ReadFile(p)
				if err != nil || len(b) != 4096 || strings.Count(string(b), string(b[0])) != 4096 {
					t.Errorf("torn read: %d bytes, %v", len(b), err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestWriteFileFailureLeavesTarget(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The target is a directory now: the rename fails.
	bad := filepath.Join(dir, "d")
	if err := os.MkdirAll(filepath.Join(bad, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(bad, []byte("new"), 0o644); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v, want one naming %s", err, bad)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	// Below a regular file: the directory cannot be created.
	if err := WriteFile(filepath.Join(p, "y"), []byte("x"), 0o644); err == nil {
		t.Fatal("write below a regular file succeeded")
	}
}

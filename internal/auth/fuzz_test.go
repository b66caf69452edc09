package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseFile: no input crashes the loader; what it accepts has valid
// scopes, ids and hashes, and Open on it never fails or reopens pairing.
func FuzzParseFile(f *testing.F) {
	sum := strings.Repeat("0f", 32)
	f.Add([]byte(`{"version":1,"created":"2026-01-01T00:00:00Z","tokens":[]}`))
	f.Add([]byte(`{"version":1,"tokens":[{"id":"a1","label":"phone","scope":"controller","sha256":"` + sum + `","created":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"tokens":[{"id":"a1","label":"x","scope":"viewer","sha256":"` + sum + `","last_seen":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"tokens":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fd, err := parseFile("credentials.json", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "credentials.json: ") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for _, r := range fd.Tokens {
			if (r.Scope != ScopeController && r.Scope != ScopeViewer) || !validID(r.ID) || len(r.SHA256) != 64 {
				t.Fatalf("accepted a bad record %+v", r)
			}
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, CredentialsFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{Dir: dir})
		if err != nil || s.FirstStart() || len(s.List()) != len(fd.Tokens) {
			t.Fatalf("Open on an accepted file: %v (first start %v)", err, s != nil && s.FirstStart())
		}
	})
}

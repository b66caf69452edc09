package statedir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/logtest"
)

func TestStateDirFallback(t *testing.T) {
	// A path below a regular file is unwritable even for root.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(file, "state")
	xdg := t.TempDir()
	logs := logtest.New(t)
	getenv := func(k string) string {
		return map[string]string{"MESHBOX_STATE_DIR": ro, "XDG_STATE_HOME": xdg}[k]
	}
	if got := Resolve(getenv, nil, logs.Logger()); got != filepath.Join(xdg, "meshbox") {
		t.Fatalf("state dir %s", got)
	}
	if !strings.Contains(logs.String(), "fallback") {
		t.Fatalf("no log line: %s", logs.String())
	}
}

// TestTokenGeneratedOnceAndKept: the stored token is created 0600 and read
// back on the next start, not replaced.
func TestTokenGeneratedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	getenv := func(string) string { return "" }
	logs := logtest.New(t)
	tok, src, err := Token(getenv, false, nil, dir, logs.Logger())
	if err != nil || len(tok) < 24 || !strings.HasPrefix(src, "generated, stored in ") {
		t.Fatalf("first start: %q %q %v", tok, src, err)
	}
	st, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	again, src, err := Token(getenv, false, nil, dir, logs.Logger())
	if err != nil || again != tok || !strings.HasPrefix(src, "stored in ") {
		t.Fatalf("second start: %q %q %v", again, src, err)
	}
	if strings.Contains(logs.String(), tok) {
		t.Fatal("token logged")
	}
}

package update

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBoxURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://box:8765/": "http://box:8765",
		"ws://box:8765":    "http://box:8765",
		"wss://box":        "https://box",
		"box.local:8765":   "http://box.local:8765",
	} {
		if got := boxURL(in); got != want {
			t.Errorf("boxURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFetchSignature: a missing default signature (FILE.sig, URL.sig: 404)
// means an unsigned binary; a missing -sig is an error.
func TestFetchSignature(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/meshbox" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("binary"))
	}))
	defer srv.Close()
	var out strings.Builder
	c := Client{Out: &out}
	ctx := context.Background()

	bin, sig, cleanup, err := c.Fetch(ctx, srv.URL+"/meshbox", "")
	if err != nil || sig != "" {
		t.Fatalf("download: %q %v", sig, err)
	}
	if b, _ := os.ReadFile(bin); string(b) != "binary" {
		t.Fatalf("downloaded %q", b)
	}
	cleanup()
	if _, err := os.Stat(bin); !os.IsNotExist(err) {
		t.Fatalf("cleanup left %s", bin)
	}
	if out.String() != "downloading "+srv.URL+"/meshbox\n" {
		t.Fatalf("progress %q", out.String())
	}

	file := filepath.Join(t.TempDir(), "meshbox")
	if err := os.WriteFile(file, []byte("binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+".sig", []byte("SIG LINE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, sig, _, err := c.Fetch(ctx, file, ""); err != nil || got != file || sig != "SIG LINE" {
		t.Fatalf("local: %q %q %v", got, sig, err)
	}
	if _, _, _, err := c.Fetch(ctx, file, file+".missing"); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("missing -sig: %v", err)
	}
}

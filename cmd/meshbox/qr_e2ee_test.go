package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/e2ee"
)

// TestQRCommandEncryptedRoom: with e2ee: true "meshbox qr" puts the room
// key serve generated in the QR ("k"), and never makes one up.
func TestQRCommandEncryptedRoom(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "meshbox.yaml")
	if err := os.WriteFile(cfgPath, []byte("name: shed\ne2ee: true\noutputs:\n  - {id: lamp, pin: 17}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	var out bytes.Buffer
	env := &Env{Getenv: func(k string) string {
		return map[string]string{"MESH_AUTH_TOKEN": "env-token-value", "MESHBOX_STATE_DIR": state, "XDG_STATE_HOME": state}[k]
	}, Stdout: &out, Stderr: io.Discard}
	if err := qrCmd(context.Background(), env, []string{"-config", cfgPath}); err == nil || !strings.Contains(err.Error(), "no room key") {
		t.Fatalf("no key yet: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, e2ee.KeyFileName)); err == nil {
		t.Fatal("meshbox qr generated a room key")
	}
	kf, _, err := e2ee.OpenKeyFile(filepath.Join(state, e2ee.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	pngPath := filepath.Join(dir, "qr.png")
	if err := qrCmd(context.Background(), env, []string{"-config", cfgPath, "-png", pngPath}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(pngPath)
	if p := decodePNG(t, b); p.K != kf.Key().String() || p.Token != "env-token-value" {
		t.Fatalf("payload %+v", p)
	}
	if !strings.Contains(out.String(), "e2ee:    room key "+kf.Key().String()) {
		t.Fatalf("console:\n%s", out.String())
	}
}

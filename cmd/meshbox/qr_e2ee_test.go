package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/e2ee"
)

// TestQRCommandEncryptedRoom: with e2ee: true, "meshbox qr" (through the
// running box's control socket) puts the room key in the QR ("k") next to
// a controller token minted for pairing, never the hub token; once pairing
// is closed it prints nothing and says how to open it.
func TestQRCommandEncryptedRoom(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "meshbox.yaml")
	if err := os.WriteFile(cfgPath, []byte("name: shed\ne2ee: true\nmdns:\n  disabled: true\noutputs:\n  - {id: lamp, pin: 17}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	kf, _, err := e2ee.OpenKeyFile(filepath.Join(state, e2ee.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"MESH_AUTH_TOKEN": "env-token-value", "MESHBOX_STATE_DIR": state, "XDG_STATE_HOME": state}
	startServe(t, vars, "-sim", "-config", cfgPath)
	var out bytes.Buffer
	env := &Env{Getenv: func(k string) string { return vars[k] }, Stdout: &out, Stderr: io.Discard}
	pngPath := filepath.Join(dir, "qr.png")
	err = qrCmd(context.Background(), env, []string{"-config", cfgPath, "-png", pngPath})
	for deadline := time.Now().Add(10 * time.Second); err != nil && strings.Contains(err.Error(), "is meshbox running") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // the control socket comes up with the box
		out.Reset()
		err = qrCmd(context.Background(), env, []string{"-config", cfgPath, "-png", pngPath})
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(pngPath)
	p := decodePNG(t, b)
	if p.K != kf.Key().String() || p.Token == "" || p.Token == "env-token-value" || p.Role != "controller" {
		t.Fatalf("payload %+v", p)
	}
	if st, _ := os.Stat(pngPath); st.Mode().Perm() != 0o600 {
		t.Errorf("PNG mode %v: it carries a token", st.Mode().Perm())
	}
	if !strings.Contains(out.String(), "e2ee:    room key "+kf.Key().String()) || !strings.Contains(out.String(), "token:   "+p.Token) {
		t.Fatalf("console:\n%s", out.String())
	}
	if err := pairCmd(context.Background(), env, []string{"-config", cfgPath, "-close"}); err != nil {
		t.Fatal(err)
	}
	if err := qrCmd(context.Background(), env, []string{"-config", cfgPath}); err == nil || !strings.Contains(err.Error(), "sudo meshbox pair") {
		t.Fatalf("qr while pairing is closed: %v", err)
	}
}

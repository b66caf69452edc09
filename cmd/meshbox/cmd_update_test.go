package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/update"
)

// buildMeshbox builds this command with a stamped version: a real release.
func buildMeshbox(t *testing.T, ver string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds cmd/meshbox; skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "meshbox-"+ver)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "-ldflags", "-s -w -X main.version="+ver, ".")
	// For the host even when this test runs under qemu-user (make test-arm).
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+hostGoEnv(t, "GOHOSTOS"), "GOARCH="+hostGoEnv(t, "GOHOSTARCH"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

func hostGoEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

func updEnv(getenv map[string]string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var o, e bytes.Buffer
	return &Env{Getenv: func(k string) string { return getenv[k] }, Stdout: &o, Stderr: &e}, &o, &e
}

func TestUpdateCmd(t *testing.T) {
	bin := buildMeshbox(t, "9.9.9-test")
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(raw)
	sum := hex.EncodeToString(s[:])
	ctx := context.Background()

	t.Run("local install", func(t *testing.T) {
		state := t.TempDir()
		env, out, _ := updEnv(nil)
		if err := updateCmd(ctx, env, []string{"-state", state, "-key", filepath.Join(state, "none.pub"), "-restart=false", "-sha256", sum, bin}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "installed meshbox 9.9.9-test (sha256 "+sum) {
			t.Fatalf("output:\n%s", out)
		}
		u := &update.Updater{Layout: update.Layout{StateDir: state}}
		p, ok := u.PendingUpdate()
		if !ok || p.Version != "9.9.9-test" || p.FromVersion != version {
			t.Fatalf("pending %+v %v", p, ok)
		}
		got, err := os.ReadFile(u.Layout.Current())
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("installed binary differs: %v", err)
		}
	})

	t.Run("bad checksum", func(t *testing.T) {
		env, _, _ := updEnv(nil)
		err := updateCmd(ctx, env, []string{"-state", t.TempDir(), "-key", "/nonexistent.pub", "-restart=false", "-sha256", strings.Repeat("0", 64), bin})
		if err == nil || !strings.Contains(err.Error(), "sha256") {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("usage", func(t *testing.T) {
		env, _, _ := updEnv(nil)
		if err := updateCmd(ctx, env, nil); exitCode(err) != 2 {
			t.Fatalf("no args: %v", err)
		}
		if err := updateCmd(ctx, env, []string{"-box", "http://x", bin}); exitCode(err) != 2 || !strings.Contains(err.Error(), "owner credential") {
			t.Fatalf("-box without token: %v", err)
		}
	})

	t.Run("push to a box", func(t *testing.T) {
		state := t.TempDir()
		restarted := make(chan struct{}, 1)
		u := &update.Updater{Layout: update.Layout{StateDir: state}, Version: "1.0.0"}
		srv := httptest.NewServer(update.Handler(update.HandlerOptions{
			Updater: u, Authorize: update.BearerAuthorizer(func() string { return "tok" }), Restart: func() { restarted <- struct{}{} },
		}))
		defer srv.Close()
		env, out, _ := updEnv(map[string]string{"MESHBOX_OWNER_TOKEN": "tok"})
		box := "ws://" + strings.TrimPrefix(srv.URL, "http://") // the pairing URL works too
		if err := updateCmd(ctx, env, []string{"-box", box, "-sha256", sum, bin}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "installed meshbox 9.9.9-test (was 1.0.0, unsigned") {
			t.Fatalf("output:\n%s", out)
		}
		select {
		case <-restarted:
		default:
			t.Fatal("box not restarted")
		}
		env, _, _ = updEnv(nil)
		err := updateCmd(ctx, env, []string{"-box", srv.URL, "-token", "wrong", bin})
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("wrong token: %v", err)
		}
	})

	t.Run("keygen, sign, keyed box", func(t *testing.T) {
		dir := t.TempDir()
		key := filepath.Join(dir, "release.key")
		env, out, _ := updEnv(nil)
		if err := keygenCmd(ctx, env, []string{"-out", key}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "key id ") {
			t.Fatalf("keygen output:\n%s", out)
		}
		if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("private key: %v %v", st, err)
		}
		if err := keygenCmd(ctx, env, []string{"-out", key}); err == nil {
			t.Fatal("keygen overwrote a key")
		}
		pubFile := filepath.Join(dir, "release.pub")
		// A copy of the binary, unsigned for now.
		rel := filepath.Join(dir, "meshbox-linux")
		if err := os.WriteFile(rel, raw, 0o755); err != nil {
			t.Fatal(err)
		}
		state := t.TempDir()
		u := &update.Updater{Layout: update.Layout{StateDir: state}, Version: "1.0.0", KeyFile: pubFile}
		srv := httptest.NewServer(update.Handler(update.HandlerOptions{
			Updater: u, Authorize: update.BearerAuthorizer(func() string { return "tok" }),
		}))
		defer srv.Close()
		env, _, _ = updEnv(nil)
		err := updateCmd(ctx, env, []string{"-box", srv.URL, "-token", "tok", rel})
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "only signed binaries") {
			t.Fatalf("unsigned push to a keyed box: %v", err)
		}
		err = updateCmd(ctx, env, []string{"-state", t.TempDir(), "-key", pubFile, "-restart=false", rel})
		if err == nil || !strings.Contains(err.Error(), "only signed binaries") {
			t.Fatalf("unsigned local install on a keyed box: %v", err)
		}
		env, out, _ = updEnv(nil)
		if err := signCmd(ctx, env, []string{"-key", key, rel}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(rel + ".sig"); err != nil {
			t.Fatal(err)
		}
		env, out, _ = updEnv(nil)
		if err := updateCmd(ctx, env, []string{"-box", srv.URL, "-token", "tok", rel}); err != nil {
			t.Fatalf("signed push: %v", err)
		}
		if !strings.Contains(out.String(), "signature verified") {
			t.Fatalf("output:\n%s", out)
		}
		// A URL is downloaded by the command, with URL.sig, and pushed.
		files := httptest.NewServer(http.FileServer(http.Dir(dir)))
		defer files.Close()
		state2 := t.TempDir()
		env, out, _ = updEnv(nil)
		if err := updateCmd(ctx, env, []string{"-state", state2, "-key", pubFile, "-restart=false", files.URL + "/meshbox-linux"}); err != nil {
			t.Fatalf("local install from a URL: %v\n%s", err, out)
		}
		if !strings.Contains(out.String(), "signature verified") {
			t.Fatalf("output:\n%s", out)
		}
		// A tampered binary with the old signature is refused.
		tampered := append(bytes.Clone(raw), 0)
		os.WriteFile(rel, tampered, 0o755)
		env, _, _ = updEnv(nil)
		err = updateCmd(ctx, env, []string{"-box", srv.URL, "-token", "tok", rel})
		if err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Fatalf("tampered push: %v", err)
		}
	})
}

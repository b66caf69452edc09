package update

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// releases are real "go build"s of testdata/fakebox with different stamped
// versions, like successive releases of meshbox.
type releases struct {
	v1, v2, v3        string // good builds (v3 is v1's file: a downgrade)
	crash, unhealthy  string // pass "version", fail when serving
	hang              string // never answers "version"
	script            string // a shell script that prints "meshbox 9.0.0"
	garbage, notExec  string // not a program at all
	wrongVersionPrint string // prints something else for "version"
}

func buildFakebox(t *testing.T, dir, version, broken string) string {
	t.Helper()
	return buildFakeboxMarker(t, dir, version, broken, "")
}

// buildFakeboxMarker builds a fakebox that creates marker whenever it runs.
func buildFakeboxMarker(t *testing.T, dir, version, broken, marker string) string {
	t.Helper()
	out := filepath.Join(dir, "meshbox-"+version+broken)
	flags := "-X main.version=" + version + " -X main.broken=" + broken
	if marker != "" {
		out += "-marker"
		flags += " -X main.marker=" + marker
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "-ldflags", flags, "./testdata/fakebox")
	// Built for the host even when this test runs as an arm binary under
	// qemu-user (make test-arm): the kernel must exec it directly.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goEnv(t, "GOHOSTOS"), "GOARCH="+goEnv(t, "GOHOSTARCH"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build fakebox %s: %v\n%s", version, err, msg)
	}
	return out
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

func buildReleases(t *testing.T) releases {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain to build the test releases")
	}
	dir := t.TempDir()
	r := releases{
		v1:        buildFakebox(t, dir, "1.0.0", ""),
		v2:        buildFakebox(t, dir, "2.0.0", ""),
		crash:     buildFakebox(t, dir, "4.0.0-crash", "crash"),
		unhealthy: buildFakebox(t, dir, "5.0.0-sick", "unhealthy"),
		hang:      buildFakebox(t, dir, "6.0.0-hang", "hang"),
	}
	r.script = filepath.Join(dir, "fake-meshbox.sh")
	if err := os.WriteFile(r.script, []byte("#!/bin/sh\necho meshbox 9.0.0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.v3 = r.v1
	r.garbage = filepath.Join(dir, "garbage")
	if err := os.WriteFile(r.garbage, []byte("\x7fELF this is not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.wrongVersionPrint = filepath.Join(dir, "script")
	if err := os.WriteFile(r.wrongVersionPrint, []byte("#!/bin/sh\necho hello world\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

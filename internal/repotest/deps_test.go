package repotest

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/meshbox-deps.txt")

// TestMeshboxDependencies keeps the list of non-standard packages linked
// into the meshbox binary in a golden file, so a new dependency shows up in
// review (tailscale's depaware idea). go test ./internal/repotest -update
// rewrites it.
func TestMeshboxDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool (skipped with -short, e.g. under qemu-user)")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/meshbox")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "/vendor/") {
			lines = append(lines, l)
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "meshbox-deps.txt")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./internal/repotest -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("the packages linked into meshbox (linux/arm64) changed; review and run go test ./internal/repotest -update\n--- got\n%s--- want\n%s", got, want)
	}
}

package repotest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// otherAppNames are names the phone app went by besides CAR-TER (issue #15
// item 12: "MeshSocket app", a "Studio Session" app, Carter spelt
// otherwise).
var otherAppNames = regexp.MustCompile(`(?i)meshsocket\s+(phone\s+)?app|studio\s+session\s+(phone\s+)?app|\bcar-?ter\b`)

// TestOneAppName: what a newcomer reads (README, docs/, the page) calls
// the phone app CAR-TER and nothing else, and the page's "Studio Session"
// (a menu of the app, not an app) comes with the app's name. Issue #15
// item 12.
func TestOneAppName(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(root, "README.md")}
	for _, pat := range []string{"docs/*.md", "internal/page/assets/*.html", "internal/page/assets/*.js"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	named := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range otherAppNames.FindAllString(line, -1) {
				if m != "CAR-TER" {
					t.Errorf("%s:%d calls the phone app %q (it is the CAR-TER app): %s", rel, i+1, m, strings.TrimSpace(line))
				}
			}
			if strings.Contains(line, "Studio Session") && !strings.Contains(line, "CAR-TER") {
				t.Errorf("%s:%d names the app's Studio Session menu without the app (CAR-TER): %s", rel, i+1, strings.TrimSpace(line))
			}
			named += strings.Count(line, "CAR-TER app")
		}
	}
	if named == 0 {
		t.Error("no file names the CAR-TER app")
	}
}

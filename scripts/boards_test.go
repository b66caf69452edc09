package scripts_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/board"
)

// TestBoardNamesAgree: every --board name flash.sh takes is a board name
// the config's board: and meshbox pins -board accept, and every canonical
// model is one flash.sh takes.
func TestBoardNamesAgree(t *testing.T) {
	src, err := os.ReadFile("flash.sh")
	if err != nil {
		t.Fatal(err)
	}
	arms := regexp.MustCompile(`(?m)^\t((?:[a-z0-9-]+ \| )*[a-z0-9-]+)\) ARCH=`).FindAllStringSubmatch(string(src), -1)
	if len(arms) != 3 {
		t.Fatalf("found %d board case arms in flash.sh, want 3", len(arms))
	}
	taken := map[string]bool{}
	for _, a := range arms {
		for _, n := range strings.Split(a[1], " | ") {
			taken[n] = true
			if _, ok := board.Canonical(n); !ok {
				t.Errorf("flash.sh --board %s: board.Canonical does not know it", n)
			}
		}
	}
	for _, m := range board.Models() {
		if !taken[m] {
			t.Errorf("model %s: flash.sh --board does not take it", m)
		}
	}
}

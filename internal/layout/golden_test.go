package layout

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// goldenOptions are fixed so golden files do not depend on the host.
var goldenOptions = Options{URL: "ws://192.168.1.50:8765", Token: "golden-token"}

type goldenCase struct {
	name string
	cfg  func(t *testing.T) *config.Config
}

func goldenCases(t *testing.T) []goldenCase {
	cases := []goldenCase{{"builtin-demo", func(*testing.T) *config.Config { return config.Demo() }}}
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		cases = append(cases, goldenCase{name, func(t *testing.T) *config.Config {
			cfg, err := loadExample(f)
			if err != nil {
				t.Fatalf("load %s: %v", f, err)
			}
			return cfg
		}})
	}
	return cases
}

// TestGolden generates the layout of the demo and of every example config,
// checks it against the §14 rules and the frames the real bridge sends for
// that config, and compares it with testdata/<name>.golden.json.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			l, err := Generate(cfg, goldenOptions)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			frames := bridgeFrames(t, cfg, l)
			if err := ValidateLayout(l, frames); err != nil {
				t.Fatalf("layout does not validate against the bridge's frames:\n%v", err)
			}
			got, err := l.JSON()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", tc.name+".golden.json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/layout -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("layout differs from %s (rerun with -update if intended):\n%s", path, firstDiff(got, want))
			}
		})
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + x + "\nwant: " + y
		}
	}
	return ""
}

// loadExample loads an example config as a Raspberry Pi 4 would.
func loadExample(path string) (*config.Config, error) {
	return config.LoadFor(path, "pi4")
}

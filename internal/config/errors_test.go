package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// TestErrorsGolden loads every NAME.yaml of testdata/errors.txtar and
// compares the error with NAME.want. A line marked "#!" in the YAML is the
// line the first error must name, checked independently of the golden text.
func TestErrorsGolden(t *testing.T) {
	path := filepath.Join("testdata", "errors.txtar")
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wants := map[string]int{}
	for i, f := range ar.Files {
		if n, ok := strings.CutSuffix(f.Name, ".want"); ok {
			wants[n] = i
		}
	}
	var out []txtar.File
	cases := 0
	for _, f := range ar.Files {
		name, ok := strings.CutSuffix(f.Name, ".yaml")
		if !ok {
			continue
		}
		cases++
		_, err := Parse(f.Name, f.Data)
		if err == nil {
			t.Errorf("%s: loaded without error", f.Name)
			continue
		}
		got := err.Error() + "\n"
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: %T is not a *config.Error", f.Name, err)
		} else {
			if !strings.HasPrefix(got, f.Name+":") {
				t.Errorf("%s: error does not start with the file name: %s", f.Name, got)
			}
			if marked := markedLine(f.Data); marked > 0 && e.Line != marked {
				t.Errorf("%s: error on line %d, want line %d (marked #!): %s", f.Name, e.Line, marked, got)
			}
		}
		out = append(out, f, txtar.File{Name: name + ".want", Data: []byte(got)})
		if i, ok := wants[name]; !ok {
			t.Errorf("%s: no %s.want section (-update adds it)", f.Name, name)
		} else if w := string(ar.Files[i].Data); w != got && !*update {
			t.Errorf("%s:\n got: %s want: %s", f.Name, got, w)
		}
	}
	if cases < 30 {
		t.Errorf("only %d cases", cases)
	}
	if *update {
		ar.Files = out
		if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func markedLine(data []byte) int {
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "#!") {
			return i + 1
		}
	}
	return 0
}

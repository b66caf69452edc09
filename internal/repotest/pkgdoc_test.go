package repotest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sourceDirs returns every directory below the module root holding
// non-test Go files, with those files, skipping testdata and hidden dirs.
func sourceDirs(t *testing.T) (root string, dirs map[string][]string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	dirs = map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return root, dirs
}

// TestEveryPackageHasOneDoc: exactly one file per package carries the
// package doc comment (style.md convention 15).
func TestEveryPackageHasOneDoc(t *testing.T) {
	root, dirs := sourceDirs(t)
	fset := token.NewFileSet()
	for dir, files := range dirs {
		var docs []string
		for _, f := range files {
			af, err := parser.ParseFile(fset, f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && strings.TrimSpace(af.Doc.Text()) != "" {
				docs = append(docs, filepath.Base(f))
			}
		}
		rel, _ := filepath.Rel(root, dir)
		switch len(docs) {
		case 1:
		case 0:
			t.Errorf("%s: no package doc comment", rel)
		default:
			t.Errorf("%s: package doc comments in %d files (%s), want one", rel, len(docs), strings.Join(docs, ", "))
		}
	}
}

// TestNoInitInInternal: internal packages build everything explicitly
// (style.md convention 1).
func TestNoInitInInternal(t *testing.T) {
	root, dirs := sourceDirs(t)
	fset := token.NewFileSet()
	for dir, files := range dirs {
		rel, _ := filepath.Rel(root, dir)
		if !strings.HasPrefix(rel, "internal"+string(filepath.Separator)) && rel != "internal" {
			continue
		}
		for _, f := range files {
			af, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range af.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
					t.Errorf("%s: func init in an internal package", fset.Position(fn.Pos()))
				}
			}
		}
	}
}

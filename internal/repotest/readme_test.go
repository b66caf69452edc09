package repotest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeGoSnippets parses every ```go block of the README as the body
// of a function and checks that each struct field decoded from a payload
// has the json tag of its wire name: a field MsgType without
// `json:"msg_type"` never matches a frame (a newcomer's first bug).
func TestReadmeGoSnippets(t *testing.T) {
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllSubmatch(src, -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block")
	}
	wire := map[string]string{"MsgType": "msg_type", "Command": "command", "Target": "target", "Value": "value"}
	for i, b := range blocks {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "readme.go", "package p\nfunc _() {\n"+string(b[1])+"\n}\n", 0)
		if err != nil {
			t.Errorf("README go block %d does not parse: %v", i+1, err)
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			st, ok := n.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fld := range st.Fields.List {
				tag := ""
				if fld.Tag != nil {
					tag, _ = strconv.Unquote(fld.Tag.Value)
				}
				for _, name := range fld.Names {
					want, isWire := wire[name.Name]
					got, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
					if isWire && got != want {
						t.Errorf("README go block %d, %s: field %s has json tag %q, want %q",
							i+1, fset.Position(name.Pos()), name.Name, got, want)
					}
				}
			}
			return true
		})
	}
}

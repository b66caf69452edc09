package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// precheck walks the document alongside the Config type and reports, all at
// once, what the decoder would reject one at a time and without a good
// position: unknown keys (with the nearest known key), durations that do
// not parse, and scalars of the wrong kind for a number or bool field. Each
// offending key is removed from the document, so that decoding and
// validation go on and report the file's other problems too.
func precheck(file string, n ast.Node, t reflect.Type) []*Error {
	p := prechecker{file: file}
	p.node(n, t, "", 0)
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	return p.errs
}

// nodeUnmarshaler is implemented by types that decode their own node (Pin).
var nodeUnmarshaler = reflect.TypeOf((*yaml.NodeUnmarshaler)(nil)).Elem()

type prechecker struct {
	file string
	errs []*Error
}

func (p *prechecker) add(n ast.Node, field, format string, a ...any) {
	line := 0
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
	}
	if field == "" {
		field = "(top level)"
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Field: field, Reason: fmt.Sprintf(format, a...)})
}

// node checks n against t; it reports whether n is acceptable (false: the
// caller drops the key holding it).
func (p *prechecker) node(n ast.Node, t reflect.Type, path string, depth int) bool {
	if n == nil || depth > 64 {
		return true
	}
	n = unwrap(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, null := n.(*ast.NullNode); null {
		return true
	}
	if reflect.PointerTo(t).Implements(nodeUnmarshaler) {
		return true // decodes itself (Pin), and reports its own errors
	}
	if t == reflect.TypeOf(time.Duration(0)) {
		s, ok := n.(*ast.StringNode)
		if !ok {
			if _, isInt := n.(*ast.IntegerNode); isInt {
				p.add(n, path, "want a duration like \"500ms\", \"2s\" or \"10m\", got %q (a number without a unit)", literal(n))
				return false
			}
			return true
		}
		if _, err := time.ParseDuration(s.Value); err != nil {
			p.add(n, path, "want a duration like \"500ms\", \"2s\" or \"10m\", got %q", s.Value)
			return false
		}
		return true
	}
	switch t.Kind() {
	case reflect.Bool:
		if _, ok := n.(*ast.BoolNode); !ok && isScalar(n) {
			p.add(n, path, "want true or false, got %q", literal(n))
			return false
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, ok := n.(*ast.IntegerNode); !ok && isScalar(n) {
			p.add(n, path, "want %s, got %q", friendlyType(t), literal(n))
			return false
		}
	case reflect.Float32, reflect.Float64:
		switch n.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		default:
			if isScalar(n) {
				p.add(n, path, "want a number, got %q", literal(n))
				return false
			}
		}
	case reflect.Struct:
		p.mapping(n, t, path, depth)
	case reflect.Map:
		p.mapping(n, t, path, depth)
	case reflect.Slice, reflect.Array:
		if s, ok := n.(*ast.SequenceNode); ok {
			for i, e := range s.Values {
				p.node(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
			}
		}
	}
	return true
}

// literal is a scalar as written.
func literal(n ast.Node) string {
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value
	}
	return n.String()
}

func isScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return true
	}
	return false
}

// mapping checks the keys of a mapping node against a struct or map type,
// dropping the keys it reports.
func (p *prechecker) mapping(n ast.Node, t reflect.Type, path string, depth int) {
	var pairs *[]*ast.MappingValueNode
	var single *ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		pairs = &v.Values
	case *ast.MappingValueNode:
		single = v
	default:
		return
	}
	check := func(mv *ast.MappingValueNode) bool {
		if mv == nil || mv.Key == nil {
			return true
		}
		key := mv.Key.String()
		if s, ok := mv.Key.(*ast.StringNode); ok {
			key = s.Value
		}
		if key == "<<" {
			p.node(mv.Value, t, path, depth+1)
			return true
		}
		child := key
		if path != "" {
			child = path + "." + key
		}
		if t.Kind() == reflect.Map {
			return p.node(mv.Value, t.Elem(), child, depth+1)
		}
		ft, ok := fieldType(t, key)
		if !ok {
			reason := fmt.Sprintf("unknown key %q", key)
			if s := nearest(key, yamlKeys(t)); s != "" {
				reason += fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.add(mv.Key, path, "%s", reason)
			return false
		}
		return p.node(mv.Value, ft, child, depth+1)
	}
	if single != nil {
		check(single) // a lone pair cannot be dropped; the decoder reports it again
		return
	}
	kept := (*pairs)[:0]
	for _, mv := range *pairs {
		if check(mv) {
			kept = append(kept, mv)
		}
	}
	*pairs = kept
}

func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == key && tag != "-" && f.IsExported() {
			return f.Type, true
		}
	}
	return nil, false
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" && t.Field(i).IsExported() {
			keys = append(keys, tag)
		}
	}
	return keys
}

// nearest is the known key closest to key by edit distance, when close
// enough to be a typo (at most 2 edits, or 1 for short keys); "" if none.
func nearest(key string, known []string) string {
	best, bestD := "", 3
	if len(key) <= 4 {
		bestD = 2
	}
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein (optimal string alignment)
// distance: "nmae" -> "name" is 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

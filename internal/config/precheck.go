package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// precheck walks the document alongside the Config type and reports values
// the decoder would reject without a position: durations that do not parse.
// It returns the first problem.
func precheck(file string, n ast.Node, t reflect.Type, path string, depth int) *Error {
	if n == nil || depth > 64 {
		return nil
	}
	n = unwrap(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(time.Duration(0)) {
		s, ok := n.(*ast.StringNode)
		if !ok {
			return nil
		}
		if _, err := time.ParseDuration(s.Value); err != nil {
			line := 0
			if tk := n.GetToken(); tk != nil && tk.Position != nil {
				line = tk.Position.Line
			}
			return &Error{File: file, Line: line, Field: path,
				Reason: fmt.Sprintf("want a duration like \"500ms\", \"2s\" or \"10m\", got %q", s.Value)}
		}
		return nil
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		for _, mv := range v.Values {
			if e := precheckPair(file, mv, t, path, join, depth); e != nil {
				return e
			}
		}
	case *ast.MappingValueNode:
		return precheckPair(file, v, t, path, join, depth)
	case *ast.SequenceNode:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return nil
		}
		for i, e := range v.Values {
			if err := precheck(file, e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func precheckPair(file string, mv *ast.MappingValueNode, t reflect.Type, path string, join func(string) string, depth int) *Error {
	if mv == nil || mv.Key == nil {
		return nil
	}
	key := mv.Key.String()
	if s, ok := mv.Key.(*ast.StringNode); ok {
		key = s.Value
	}
	if key == "<<" {
		return precheck(file, mv.Value, t, path, depth+1)
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == key && tag != "-" {
				return precheck(file, mv.Value, f.Type, join(key), depth+1)
			}
		}
	case reflect.Map:
		return precheck(file, mv.Value, t.Elem(), join(key), depth+1)
	}
	return nil
}

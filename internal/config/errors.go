package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Error is one configuration problem: "FILE:LINE: FIELD: reason".
type Error struct {
	File   string
	Line   int    // 1-based; 0 when unknown (the built-in demo)
	Field  string // "outputs[1].pin"; "" for the whole file
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// ErrorList is every problem found in one file, in line order. Its Error
// is one problem per line.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// dedup drops repeated problems (same line, field and reason) and orders
// the rest by line, as a user reads the file.
func (l ErrorList) dedup() ErrorList {
	seen := map[Error]bool{}
	out := l[:0:0]
	for _, e := range l {
		if e == nil || seen[*e] {
			continue
		}
		seen[*e] = true
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// Unwrap lets errors.As find each *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// positions maps field paths ("outputs[1].pin") to the line they are
// written on, and tokens back to paths for the decoder's errors.
type positions struct {
	lines  map[string]int
	tokens map[*token.Token]string
	byPos  map[[2]int]string // line, column -> path
	tag    *token.Token      // the first YAML tag seen (tags are refused)
}

func newPositions() *positions {
	return &positions{lines: map[string]int{}, tokens: map[*token.Token]string{}, byPos: map[[2]int]string{}}
}

func (p *positions) add(path string, tk *token.Token) {
	if tk == nil {
		return
	}
	if _, ok := p.lines[path]; !ok && tk.Position != nil {
		p.lines[path] = tk.Position.Line
	}
	if _, ok := p.tokens[tk]; !ok {
		p.tokens[tk] = path
	}
	if tk.Position != nil {
		k := [2]int{tk.Position.Line, tk.Position.Column}
		if _, ok := p.byPos[k]; !ok {
			p.byPos[k] = path
		}
	}
}

// walk records every node under n as path. depth bounds recursion on
// hostile input.
func (p *positions) walk(path string, n ast.Node, depth int) {
	if n == nil || depth > 64 {
		return
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		p.add(path, v.GetToken())
		for _, mv := range v.Values {
			p.walkPair(path, mv, depth)
		}
	case *ast.MappingValueNode:
		p.walkPair(path, v, depth)
	case *ast.SequenceNode:
		p.add(path, v.GetToken())
		for i, e := range v.Values {
			ip := fmt.Sprintf("%s[%d]", path, i)
			if i < len(v.Entries) && v.Entries[i] != nil {
				p.add(ip, v.Entries[i].GetToken())
			}
			p.walk(ip, e, depth+1)
		}
	case *ast.AnchorNode:
		p.add(path, v.GetToken())
		p.walk(path, v.Value, depth+1)
	case *ast.TagNode:
		p.add(path, v.GetToken())
		if p.tag == nil {
			p.tag = v.GetToken()
		}
		p.walk(path, v.Value, depth+1)
	default:
		p.add(path, n.GetToken())
	}
}

func (p *positions) walkPair(path string, mv *ast.MappingValueNode, depth int) {
	if mv == nil || mv.Key == nil {
		return
	}
	key := mv.Key.String()
	if s, ok := mv.Key.(*ast.StringNode); ok {
		key = s.Value
	}
	kp := key
	if path != "" {
		kp = path + "." + key
	}
	if key == "<<" {
		kp = path
	}
	p.add(kp, mv.Key.GetToken())
	p.walk(kp, mv.Value, depth+1)
}

// line finds the line of path, or of its nearest written parent.
func (p *positions) line(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	return p.lines[""]
}

// has reports whether path was written in the file.
func (p *positions) has(path string) bool {
	_, ok := p.lines[path]
	return ok
}

// tokenPath finds the path of a token from the decoder.
func (p *positions) tokenPath(tk *token.Token) string {
	if tk == nil {
		return ""
	}
	if s, ok := p.tokens[tk]; ok {
		return s
	}
	if tk.Position != nil {
		return p.byPos[[2]int{tk.Position.Line, tk.Position.Column}]
	}
	return ""
}

// collector gathers validation errors for one file.
type collector struct {
	file string
	pos  *positions
	errs ErrorList
}

func (c *collector) add(field, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Line: c.pos.line(field), Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (c *collector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Line < c.errs[j].Line })
	return c.errs
}

// decodeError turns a goccy error into "FILE:LINE: FIELD: reason".
func decodeError(file string, pos *positions, err error) *Error {
	e := &Error{File: file, Reason: err.Error()}
	yerr, ok := err.(yaml.Error)
	if !ok {
		return e
	}
	tk := yerr.GetToken()
	if tk != nil && tk.Position != nil {
		e.Line = tk.Position.Line
	}
	e.Field = pos.tokenPath(tk)
	e.Reason = yerr.GetMessage()
	switch te := err.(type) {
	case *yaml.TypeError:
		val := ""
		if tk != nil {
			val = fmt.Sprintf(" %q", tk.Value)
			switch tk.Type {
			case token.SequenceStartType, token.SequenceEntryType:
				val = " a list"
			case token.MappingStartType, token.MappingValueType:
				val = " a mapping"
			}
		}
		e.Reason = fmt.Sprintf("want %s, got%s", friendlyType(te.DstType), val)
	case *yaml.OverflowError:
		e.Reason = fmt.Sprintf("%s is out of range for %s", te.SrcNum, friendlyType(te.DstType))
	case *yaml.UnknownFieldError:
		e.Reason = strings.Replace(te.Message, "unknown field", "unknown key", 1)
		if e.Field != "" {
			i := strings.LastIndexByte(e.Field, '.')
			e.Field = e.Field[:max(i, 0)]
			if i < 0 {
				e.Field = ""
			}
		}
	}
	if e.Field == "" {
		e.Field = "(top level)"
		if _, ok := err.(*yaml.SyntaxError); ok {
			e.Field = "syntax"
		}
	}
	return e
}

func friendlyType(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	if t == reflect.TypeOf(time.Duration(0)) {
		return `a duration like "500ms", "2s" or "10m"`
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return friendlyType(t.Elem())
	}
	return t.String()
}

package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/meshbox/meshbox/board"
)

// MaxFileSize bounds a config file (1 MiB).
const MaxFileSize = 1 << 20

// Load reads, defaults and validates the config file at path. Header pins
// are resolved against the configured board, or board.Default for "auto"
// (see LoadFor). Every problem is reported as "FILE:LINE: FIELD: reason"
// (an ErrorList of *Error).
func Load(path string) (*Config, error) {
	return LoadFor(path, "")
}

// LoadFor is Load for a host whose detected board model is detected (used
// when the file says board: auto; "" = unknown).
func LoadFor(path, detected string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if st.Size() > MaxFileSize {
		return nil, ErrorList{{File: path, Reason: fmt.Sprintf("file is %d bytes, larger than %d", st.Size(), MaxFileSize)}}
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseFor(path, data, detected)
}

// Parse is Load on bytes; name is used in messages and stored as Path.
func Parse(name string, data []byte) (*Config, error) {
	return ParseFor(name, data, "")
}

// ParseFor is Parse for a host whose detected board model is detected.
func ParseFor(name string, data []byte, detected string) (cfg *Config, err error) {
	// The YAML library has had crashers on hostile input; a config file must
	// never take the process down.
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, ErrorList{{File: name, Field: "syntax", Reason: fmt.Sprintf("cannot parse this YAML (%v)", r)}}
		}
	}()
	if len(data) > MaxFileSize {
		return nil, ErrorList{{File: name, Reason: fmt.Sprintf("file is %d bytes, larger than %d", len(data), MaxFileSize)}}
	}
	pos := newPositions()
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, ErrorList{decodeError(name, pos, err)}
	}
	var body ast.Node
	for _, d := range file.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if _, ok := d.Body.(*ast.CommentGroupNode); ok {
			continue
		}
		if body != nil {
			return nil, ErrorList{{File: name, Line: d.GetToken().Position.Line, Field: "(top level)", Reason: "more than one YAML document"}}
		}
		body = d.Body
	}
	cfg = &Config{}
	var pre []*Error
	if body != nil {
		pos.walk("", body, 0)
		if pos.tag != nil {
			return nil, ErrorList{{File: name, Line: pos.tag.Position.Line, Field: pos.tokenPath(pos.tag),
				Reason: fmt.Sprintf("YAML tags (%s) are not supported", pos.tag.Value)}}
		}
		if _, ok := unwrap(body).(*ast.MappingNode); !ok {
			return nil, ErrorList{{File: name, Line: pos.line(""), Field: "(top level)",
				Reason: fmt.Sprintf("want a mapping of keys (name:, outputs:, ...), got %s", body.Type())}}
		}
		pre = precheck(name, body, reflect.TypeOf(cfg))
		if err := yaml.NodeToValue(body, cfg, yaml.DisallowUnknownField()); err != nil {
			return nil, append(ErrorList(pre), decodeError(name, pos, err)).dedup()
		}
	}
	cfg.Path = name
	err = finish(cfg, name, pos, detected)
	if len(pre) > 0 {
		// The keys precheck dropped were not validated; what it found comes
		// first, then validation's findings on the rest, by line.
		var rest ErrorList
		errors.As(err, &rest)
		return nil, append(ErrorList(pre), rest...).dedup()
	}
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func unwrap(n ast.Node) ast.Node {
	for i := 0; i < 8; i++ {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
	return n
}

// finish applies defaults and validates.
func finish(cfg *Config, file string, pos *positions, detected string) error {
	c := &collector{file: file, pos: pos}
	model := board.Default
	if cfg.Board == "" {
		cfg.Board = "auto"
	}
	if cfg.Board == "auto" {
		if m, ok := board.Canonical(detected); ok {
			model = m
		}
	} else if m, ok := board.Canonical(cfg.Board); ok {
		cfg.Board, model = m, m
	} else {
		c.add("board", "unknown board %q (auto, pi-zero, pi-zero-2w, pi3, pi4, pi5)", cfg.Board)
	}
	cfg.BoardModel = model
	applyDefaults(cfg, pos)
	validate(cfg, board.MustLookup(model), c)
	return c.err()
}

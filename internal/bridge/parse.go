package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the serial line parsers.
const (
	maxLineLen   = 4096 // longer lines are cut by the reader and refused
	maxFields    = 64   // fields kept per line
	maxKeyLen    = 64
	maxJSONDepth = 4
)

var errNoFields = errors.New("no fields")

// reserved keys are part of the metrics frame itself.
func reservedKey(k string) bool { return k == "msg_type" || k == "source" }

// validKey accepts keys of letters, digits, '_' and '-', at most maxKeyLen
// bytes ('.' would split a layout's valuePath; the parsers turn it into '_').
func validKey(k string) bool {
	if k == "" || len(k) > maxKeyLen || reservedKey(k) {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// scalar converts a textual value: a finite number, a bool, or the text.
func scalar(s string) any {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	return s
}

// ParseKV parses one key=value line ("t=21.5 h=40 state=ok"; pairs are
// separated by spaces, tabs, commas or semicolons; ':' is accepted instead
// of '='; a value may be double-quoted to hold spaces). Numbers become
// float64, true/false bools, anything else a string. Tokens without a
// separator or with an invalid key are skipped; a line with no valid pair
// is an error. It never panics.
func ParseKV(line string) (map[string]any, error) {
	if len(line) > maxLineLen {
		return nil, errors.New("line too long")
	}
	if !utf8.ValidString(line) {
		line = strings.ToValidUTF8(line, "\uFFFD")
	}
	out := make(map[string]any)
	i := 0
	isSep := func(c byte) bool { return c == ' ' || c == '\t' || c == ',' || c == ';' || c == '\r' || c == '\n' }
	for i < len(line) && len(out) < maxFields {
		for i < len(line) && isSep(line[i]) {
			i++
		}
		if i >= len(line) {
			break
		}
		// key
		start := i
		for i < len(line) && !isSep(line[i]) && line[i] != '=' && line[i] != ':' {
			i++
		}
		key := line[start:i]
		if i >= len(line) || (line[i] != '=' && line[i] != ':') {
			continue // bare word
		}
		i++ // separator
		var val string
		if i < len(line) && line[i] == '"' {
			end := strings.IndexByte(line[i+1:], '"')
			if end < 0 {
				val = line[i+1:]
				i = len(line)
			} else {
				val = line[i+1 : i+1+end]
				i += end + 2
			}
		} else {
			vs := i
			for i < len(line) && !isSep(line[i]) {
				i++
			}
			val = line[vs:i]
		}
		key = strings.ReplaceAll(key, ".", "_")
		if !validKey(key) {
			continue
		}
		out[key] = scalar(val)
	}
	if len(out) == 0 {
		return nil, errNoFields
	}
	return out, nil
}

// ParseJSONLine parses one JSON object per line. Nested objects are
// flattened with '_' ("{"env":{"t":1}}" gives env_t); arrays and null are
// skipped; numbers become float64. Keys must pass the same rules as ParseKV.
func ParseJSONLine(line []byte) (map[string]any, error) {
	if len(line) > maxLineLen {
		return nil, errors.New("line too long")
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var obj map[string]any
	if err := json.Unmarshal(line, &obj); err != nil {
		return nil, err
	}
	out := make(map[string]any)
	flatten(out, "", obj, 0)
	if len(out) == 0 {
		return nil, errNoFields
	}
	return out, nil
}

func flatten(out map[string]any, prefix string, obj map[string]any, depth int) {
	for k, v := range obj {
		if len(out) >= maxFields {
			return
		}
		key := strings.ReplaceAll(k, ".", "_")
		if prefix != "" {
			key = prefix + "_" + key
		}
		switch x := v.(type) {
		case map[string]any:
			if depth+1 < maxJSONDepth {
				flatten(out, key, x, depth+1)
			}
		case float64, bool, string:
			if validKey(key) {
				out[key] = x
			}
		}
	}
}

// ParseText returns a raw text line with its line ending and surrounding
// blanks removed and invalid UTF-8 replaced, or an error for an empty line.
func ParseText(line string) (string, error) {
	if len(line) > maxLineLen {
		return "", errors.New("line too long")
	}
	s := strings.TrimSpace(strings.ToValidUTF8(line, "\uFFFD"))
	if s == "" {
		return "", errNoFields
	}
	return s, nil
}

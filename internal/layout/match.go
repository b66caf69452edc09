package layout

import (
	"strconv"
	"strings"
)

// The functions below mirror the app's sync matching (§14.5, carterkit
// wire.py). Frames and filters are decoded JSON: map[string]any, []any,
// string, float64, bool, nil.

// MatchFilter reports whether frame passes filter: both are objects and
// every filter key is present in the frame with an equal value (typed JSON
// equality). A nil filter matches every frame.
func MatchFilter(filter map[string]any, frame any) bool {
	if filter == nil {
		return true
	}
	obj, ok := frame.(map[string]any)
	if !ok {
		return false
	}
	for k, want := range filter {
		got, ok := obj[k]
		if !ok || !JSONEqual(want, got) {
			return false
		}
	}
	return true
}

// JSONEqual is typed JSON equality: numbers compare as doubles (1 == 1.0), a
// bool never equals a number, objects and arrays compare whole.
func JSONEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !JSONEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !JSONEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	fa, ok1 := number(a)
	fb, ok2 := number(b)
	return ok1 && ok2 && fa == fb
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// WalkPath extracts the value at a dotted valuePath: empty segments are
// dropped; objects look the segment up as a key; arrays need an in-range
// non-negative integer; a scalar mid-walk fails. An empty path is the whole
// frame.
func WalkPath(frame any, path string) (any, bool) {
	cur := frame
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			continue
		}
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) || strings.HasPrefix(seg, "+") {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// IsScalar reports whether v is a bool, number or string (what scalar
// controls render).
func IsScalar(v any) bool {
	switch v.(type) {
	case bool, string:
		return true
	}
	_, ok := number(v)
	return ok
}

package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// errBadValue is wrapped by every value conversion failure.
var errBadValue = errors.New("bad value")

// What a value should have been, for error messages.
const (
	wantSwitch  = "a switch value (use true/false)"
	wantPercent = "a level (use a number 0..100)"
	wantAny     = "a value (use a number, true/false or a string)"
)

// normalize turns a command value as it arrives (bool, any Go number,
// string, json.RawMessage, nil) into a bool, a finite float64 or a string.
// want names what the caller expects, for the error text: every error is
// user-facing ("bad value: 1e309 is not a finite number") and never names
// Go types.
func normalize(v any, want string) (any, error) {
	switch x := v.(type) {
	case bool, string:
		return x, nil
	case float64:
		return finite(x, strconv.FormatFloat(x, 'g', -1, 64))
	case float32:
		return finite(float64(x), strconv.FormatFloat(float64(x), 'g', -1, 32))
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%w: %q is not a number", errBadValue, string(x))
		}
		return finite(f, string(x))
	case json.RawMessage:
		return normalizeJSON(x, want)
	case []byte:
		return normalizeJSON(x, want)
	case nil:
		return nil, fmt.Errorf("%w: value is missing", errBadValue)
	case map[string]any:
		return nil, fmt.Errorf("%w: an object is not %s", errBadValue, want)
	case []any:
		return nil, fmt.Errorf("%w: a list is not %s", errBadValue, want)
	default:
		return nil, fmt.Errorf("%w: this kind of value is not %s", errBadValue, want)
	}
}

// normalizeJSON reads one JSON value; numbers keep their text so an
// out-of-range one is reported as written.
func normalizeJSON(raw []byte, want string) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("%w: value is missing", errBadValue)
	}
	switch raw[0] {
	case '{':
		return nil, fmt.Errorf("%w: an object is not %s", errBadValue, want)
	case '[':
		return nil, fmt.Errorf("%w: a list is not %s", errBadValue, want)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil || d.More() {
		return nil, fmt.Errorf("%w: value is not valid JSON", errBadValue)
	}
	return normalize(out, want)
}

// finite refuses NaN and ±Inf (text is the number as the client wrote it).
func finite(f float64, text string) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%w: %s is not a finite number", errBadValue, text)
	}
	return f, nil
}

// toBool reads a switch value. Only these are accepted: true/false, the
// numbers 1/0, and the strings "true", "false", "on", "off", "1", "0"
// (case-insensitive, surrounding space ignored). Anything else (2, "yes",
// "") is refused: a typo must not switch a relay on.
func toBool(v any) (bool, error) {
	n, err := normalize(v, wantSwitch)
	if err != nil {
		return false, err
	}
	switch x := n.(type) {
	case bool:
		return x, nil
	case float64:
		switch x {
		case 1:
			return true, nil
		case 0:
			return false, nil
		}
		return false, fmt.Errorf("%w: %s is not on/off", errBadValue, strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "on", "1":
			return true, nil
		case "false", "off", "0":
			return false, nil
		}
		return false, fmt.Errorf("%w: %q is not on/off", errBadValue, clip(x))
	}
	return false, fmt.Errorf("%w: not %s", errBadValue, wantSwitch)
}

// toPercent reads a PWM value in percent (0..100): a number or its string
// form; true/on means 100, false/off 0. Out-of-range numbers are refused.
func toPercent(v any) (float64, error) {
	n, err := normalize(v, wantPercent)
	if err != nil {
		return 0, err
	}
	var f float64
	switch x := n.(type) {
	case bool:
		if x {
			return 100, nil
		}
		return 0, nil
	case float64:
		f = x
	case string:
		s := strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(x), "%")))
		switch s {
		case "true", "on":
			return 100, nil
		case "false", "off":
			return 0, nil
		}
		f, err = strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%w: %q is not a number", errBadValue, clip(x))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%w: %q is not a finite number", errBadValue, clip(x))
		}
	}
	if f < 0 || f > 100 {
		return 0, fmt.Errorf("%w: %v is outside 0..100", errBadValue, f)
	}
	return f, nil
}

// clip shortens a client string quoted in an error reason.
func clip(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	return string(r[:limit]) + "…"
}

// valueString renders a value for a serial command template.
func valueString(v any) string {
	n, err := normalize(v, wantAny)
	if err != nil {
		return ""
	}
	switch x := n.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return ""
}

package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// errBadValue is wrapped by every value conversion failure.
var errBadValue = errors.New("bad value")

// normalize turns a command value as it arrives (bool, any Go number,
// string, json.RawMessage, nil) into a bool, a float64 or a string.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case bool, string:
		return x, nil
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
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
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("%w: %q", errBadValue, x)
		}
		return f, nil
	case json.RawMessage:
		if len(x) == 0 {
			return nil, fmt.Errorf("%w: missing", errBadValue)
		}
		var out any
		if err := json.Unmarshal(x, &out); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadValue, err)
		}
		return normalize(out)
	case nil:
		return nil, fmt.Errorf("%w: missing", errBadValue)
	default:
		return nil, fmt.Errorf("%w: unsupported type %T", errBadValue, v)
	}
}

// toBool reads a switch value: true/false, on/off, 1/0, yes/no, or a number
// (non-zero is on).
func toBool(v any) (bool, error) {
	n, err := normalize(v)
	if err != nil {
		return false, err
	}
	switch x := n.(type) {
	case bool:
		return x, nil
	case float64:
		if math.IsNaN(x) {
			return false, fmt.Errorf("%w: NaN", errBadValue)
		}
		return x != 0, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "on", "1", "yes", "high":
			return true, nil
		case "false", "off", "0", "no", "low", "":
			return false, nil
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && !math.IsNaN(f) {
			return f != 0, nil
		}
		return false, fmt.Errorf("%w: %q is not on or off", errBadValue, x)
	}
	return false, fmt.Errorf("%w: %v", errBadValue, n)
}

// toPercent reads a PWM value in percent (0..100): a number or its string
// form; true/on means 100, false/off 0. Out-of-range numbers are refused.
func toPercent(v any) (float64, error) {
	n, err := normalize(v)
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
		if err != nil {
			return 0, fmt.Errorf("%w: %q is not a number", errBadValue, x)
		}
	}
	if math.IsNaN(f) || f < 0 || f > 100 {
		return 0, fmt.Errorf("%w: %v is outside 0..100", errBadValue, f)
	}
	return f, nil
}

// valueString renders a value for a serial command template.
func valueString(v any) string {
	n, err := normalize(v)
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

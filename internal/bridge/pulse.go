package bridge

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxSwitchPulse caps the "ms" of a pulse command on a switch output that
// has no max_on (unless its configured pulse is longer).
const maxSwitchPulse = time.Minute

// onLimit is the longest o may stay on in one go: a momentary output's
// pulse, max_on when set (the smaller of both). 0 means no limit.
func (o *output) onLimit() time.Duration {
	var l time.Duration
	if o.kind == outMomentary {
		l = o.pulse
	}
	if m := o.cfg.MaxOn; m > 0 && (l == 0 || m < l) {
		l = m
	}
	return l
}

// pulseLimit is the longest pulse a command may ask for on o: its on limit,
// or for a switch without max_on one minute (its configured pulse if that
// is longer).
func (o *output) pulseLimit() time.Duration {
	if l := o.onLimit(); l > 0 {
		return l
	}
	return max(maxSwitchPulse, o.pulse)
}

// pulseLength reads the optional "ms" of a pulse command for o: absent or
// null means the configured pulse; otherwise a finite number (or its
// string form) with 1 <= ms <= o.pulseLimit().
func pulseLength(o *output, m inMsg) (time.Duration, error) {
	limit := o.pulseLimit()
	raw, ok := m["ms"]
	if !ok || len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return min(o.pulse, limit), nil
	}
	bad := fmt.Errorf("%w: ms must be between 1 and %s", ErrBadValue, fmtMs(limit))
	n, err := normalize(raw, "a number of milliseconds")
	if err != nil {
		return 0, bad
	}
	var ms float64
	switch x := n.(type) {
	case float64:
		ms = x
	case string:
		if ms, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, bad
		}
	default:
		return 0, bad
	}
	// NaN fails both comparisons.
	if !(ms >= 1 && ms <= float64(limit)/float64(time.Millisecond)) {
		return 0, bad
	}
	return min(time.Duration(ms*float64(time.Millisecond)), limit), nil
}

// fmtMs renders d in milliseconds ("500", "0.5").
func fmtMs(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64)
}

// holdFor bounds an "on for hold" request by o's on limit, counted from
// when o went on (if it already was) so that repeated pulses cannot keep
// it on past its pulse or max_on. capped reports that the limit applied.
func (o *output) holdFor(now time.Time, wasOn bool, hold time.Duration) (d time.Duration, capped bool) {
	l := o.onLimit()
	if l <= 0 {
		return hold, false
	}
	start := now
	if wasOn && !o.onSince.IsZero() {
		start = o.onSince
	}
	if end := start.Add(l); now.Add(hold).After(end) {
		return max(0, end.Sub(now)), true
	}
	return hold, false
}

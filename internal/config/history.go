package config

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// History defaults (see History in types.go).
const (
	DefaultHistoryFlush     = 5 * time.Minute
	DefaultHistoryRaw       = 24 * time.Hour
	DefaultHistoryRollup1m  = 7 * 24 * time.Hour
	DefaultHistoryRollup15m = 365 * 24 * time.Hour
	minHistoryFlush         = 10 * time.Second
	maxHistoryFlush         = time.Hour
	// maxHistoryRetention bounds every tier (ten years).
	maxHistoryRetention = 10 * 365 * 24 * time.Hour
)

func durPtr(d time.Duration) *time.Duration { return &d }

// applyHistoryDefaults fills the history block's unset durations.
func applyHistoryDefaults(h *History) {
	if h.FlushInterval == 0 {
		h.FlushInterval = DefaultHistoryFlush
	}
	if h.Raw == nil {
		h.Raw = durPtr(DefaultHistoryRaw)
	}
	if h.Rollup1m == nil {
		h.Rollup1m = durPtr(DefaultHistoryRollup1m)
	}
	if h.Rollup15m == nil {
		h.Rollup15m = durPtr(DefaultHistoryRollup15m)
	}
	for k, f := range h.Fields {
		if f.Raw == nil {
			f.Raw = h.Raw
		}
		if f.Rollup1m == nil {
			f.Rollup1m = h.Rollup1m
		}
		if f.Rollup15m == nil {
			f.Rollup15m = h.Rollup15m
		}
		h.Fields[k] = f
	}
}

// Series is one quantity the box records history for.
type Series struct {
	Name   string // metric key or output id
	Unit   string // "" for outputs (on/off as 1/0)
	Output bool
	// State: recorded from the control's state (outputs, thermostat
	// targets), not from metrics readings.
	State bool
}

// Series lists every series the box records history for: each sensor and
// serial field (metric key), each output id and each thermostat (its
// target), in config order.
func (cfg *Config) Series() []Series {
	var out []Series
	seen := map[string]bool{}
	add := func(s Series) {
		if s.Name != "" && !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s)
		}
	}
	drivers := Drivers()
	for _, s := range cfg.Sensors {
		if len(s.Fields) > 0 {
			for _, f := range s.Fields {
				add(Series{Name: f.Name, Unit: f.Unit})
			}
			continue
		}
		fields := drivers[s.Driver].Fields
		names := make([]string, 0, len(fields))
		for n := range fields {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			add(Series{Name: s.ID + "_" + n, Unit: fields[n]})
		}
	}
	for _, s := range cfg.Serial {
		for _, f := range s.Fields {
			add(Series{Name: f.Name, Unit: f.Unit})
		}
	}
	units := map[string]string{}
	for _, s := range out {
		units[s.Name] = s.Unit
	}
	for _, o := range cfg.Outputs {
		add(Series{Name: o.ID, Output: true, State: true})
	}
	for _, th := range cfg.Thermostats {
		add(Series{Name: th.ID, Unit: units[th.Sensor], State: true})
	}
	return out
}

// SeriesNames is the names of Series.
func (cfg *Config) SeriesNames() []string {
	var out []string
	for _, s := range cfg.Series() {
		out = append(out, s.Name)
	}
	return out
}

func (v *validator) history() {
	h := &v.cfg.History
	if h.FlushInterval < minHistoryFlush || h.FlushInterval > maxHistoryFlush {
		v.c.add("history.flush_interval", "%s is not between %s and %s", h.FlushInterval, minHistoryFlush, maxHistoryFlush)
	}
	v.retentions("history.", h.Raw, h.Rollup1m, h.Rollup15m)
	known := map[string]bool{}
	for _, n := range v.cfg.SeriesNames() {
		known[n] = true
	}
	keys := make([]string, 0, len(h.Fields))
	for k := range h.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := h.Fields[k]
		p := "history.fields." + k
		// Serial devices may publish keys nobody listed; only names that
		// cannot be a metric at all are refused.
		if !known[k] && !ValidID(k) {
			v.c.add(p, "%q is not a sensor field, serial field or output id", k)
		} else if !known[k] && len(v.cfg.Serial) == 0 {
			v.c.add(p, "no sensor field or output is called %q (known: %s)", k, short(v.cfg.SeriesNames()))
		}
		v.retentions(p+".", f.Raw, f.Rollup1m, f.Rollup15m)
		if f.Resolution < 0 || math.IsNaN(f.Resolution) || math.IsInf(f.Resolution, 0) {
			v.c.add(p+".resolution", "must be a positive number (e.g. 0.1), or 0 for six significant digits")
		}
	}
}

func (v *validator) retentions(prefix string, raw, m1, m15 *time.Duration) {
	for _, r := range []struct {
		name string
		d    *time.Duration
	}{{"raw", raw}, {"rollup_1m", m1}, {"rollup_15m", m15}} {
		if r.d == nil {
			continue
		}
		if *r.d < 0 || *r.d > maxHistoryRetention {
			v.c.add(prefix+r.name, "%s is not between 0 (off) and %s", *r.d, maxHistoryRetention)
		}
	}
}

func short(names []string) string {
	if len(names) > 8 {
		return fmt.Sprintf("%v, ...", names[:8])
	}
	return fmt.Sprint(names)
}

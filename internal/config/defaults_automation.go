package config

import (
	"fmt"
	"time"
)

// Defaults of thermostats and automations.
const (
	DefaultDeadband = 0.5
	DefaultStale    = 60 * time.Second
	DefaultClock    = "synced"
)

// DefaultRange is a thermostat's target range when none is written
// (widened to include its target).
var defaultRange = [2]float64{5, 30}

// staleFor is the default staleness for a field: 60s, at least three read
// intervals of its sensor.
func staleFor(fields map[string]FieldSource, names ...string) time.Duration {
	d := DefaultStale
	for _, n := range names {
		if fs, ok := fields[n]; ok && 3*fs.Interval > d {
			d = 3 * fs.Interval
		}
	}
	return d
}

func logicDefaults(cfg *Config, pos *positions) {
	if len(cfg.Thermostats) == 0 {
		cfg.Thermostats = nil
	}
	if len(cfg.Automations) == 0 {
		cfg.Automations = nil
	}
	if cfg.Clock == "" {
		cfg.Clock = DefaultClock
	}
	if pos == nil {
		pos = newPositions()
	}
	fields := cfg.MetricFields()
	for i := range cfg.Thermostats {
		t := &cfg.Thermostats[i]
		f := fmt.Sprintf("thermostats[%d].", i)
		if t.Label == "" {
			t.Label = t.ID
		}
		if t.Mode == "" {
			t.Mode = ModeHeat
		}
		if !pos.has(f + "deadband") {
			t.Deadband = DefaultDeadband
		}
		if !pos.has(f + "stale") {
			t.Stale = staleFor(fields, t.Sensor)
		}
		if !pos.has(f+"range") && len(t.Range) == 0 {
			t.Range = []float64{min(defaultRange[0], t.Target), max(defaultRange[1], t.Target)}
		}
	}
	for i := range cfg.Automations {
		a := &cfg.Automations[i]
		f := fmt.Sprintf("automations[%d].", i)
		if a.Label == "" {
			a.Label = a.ID
		}
		if a.Enabled == nil {
			on := true
			a.Enabled = &on
		}
		if !pos.has(f+"stale") && a.Stale == 0 && a.When != "" {
			a.Stale = DefaultStale
			if a.When != "" {
				if _, names, err := CompileWhen(a.When, cfg.ExprEnv()); err == nil {
					a.Stale = staleFor(fields, names...)
				}
			}
		}
	}
}

package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// FieldSource is where a metric key comes from.
type FieldSource struct {
	Source   string        // sensor or serial id
	Serial   bool          // a serial device's field (type unknown until read)
	Interval time.Duration // the sensor's read interval (0 for serial)
}

// MetricFields maps every metric key the config publishes (configured
// fields, or "<id>_<field>" for each driver field of a sensor without
// fields) to where it comes from. Serial devices contribute only their
// configured fields.
func (c *Config) MetricFields() map[string]FieldSource {
	m := map[string]FieldSource{}
	drivers := Drivers()
	for _, s := range c.Sensors {
		if len(s.Fields) == 0 {
			for f := range drivers[s.Driver].Fields {
				m[s.ID+"_"+f] = FieldSource{Source: s.ID, Interval: s.Interval}
			}
			continue
		}
		for _, f := range s.Fields {
			if f.Name != "" {
				m[f.Name] = FieldSource{Source: s.ID, Interval: s.Interval}
			}
		}
	}
	for _, sd := range c.Serial {
		for _, f := range sd.Fields {
			if _, ok := m[f.Name]; !ok && f.Name != "" {
				m[f.Name] = FieldSource{Source: sd.ID, Serial: true}
			}
		}
	}
	return m
}

// ExprEnv is the environment automations' when expressions are compiled
// against: every name they may read with a value of its type. Sensor
// fields and pwm outputs are numbers, switch and momentary outputs and
// inputs are bools, a thermostat id is its target (number), an automation
// id whether it is enabled (bool). A serial device's configured fields are
// taken as numbers.
func (c *Config) ExprEnv() map[string]any {
	env := map[string]any{}
	for k := range c.MetricFields() {
		env[k] = 0.0
	}
	for _, o := range c.Outputs {
		if o.Kind == KindPWM {
			env[o.ID] = 0.0
		} else {
			env[o.ID] = false
		}
	}
	for _, in := range c.Inputs {
		env[in.ID] = false
	}
	for _, t := range c.Thermostats {
		env[t.ID] = 0.0
	}
	for _, a := range c.Automations {
		env[a.ID] = false
	}
	return env
}

// CronParser parses the 5-field cron expressions of cron: (minute hour
// day-of-month month day-of-week, and descriptors like @daily).
func CronParser() cron.Parser {
	return cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
}

// ParseClock parses an at: time of day, "HH:MM" or "HH:MM:SS" (24 h).
func ParseClock(s string) (h, m, sec int, err error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, fmt.Errorf("%q is not a time of day like \"06:30\"", s)
	}
	lim := []int{23, 59, 59}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > lim[i] || len(p) > 2 || p == "" {
			return 0, 0, 0, fmt.Errorf("%q is not a time of day like \"06:30\"", s)
		}
		v[i] = n
	}
	return v[0], v[1], v[2], nil
}

// ParseOffset parses a sunrise/sunset offset: "", "0", "-20m", "+1h10m"
// (at most 12h either way).
func ParseOffset(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil || strings.HasPrefix(s, "+-") {
		return 0, fmt.Errorf("%q is not an offset like \"-20m\" or \"+10m\"", s)
	}
	if d > 12*time.Hour || d < -12*time.Hour {
		return 0, fmt.Errorf("offset %s is more than 12h", d)
	}
	return d, nil
}

func sortedNames(m map[string]any) []string {
	n := make([]string, 0, len(m))
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

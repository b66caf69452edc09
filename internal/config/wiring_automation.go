package config

import (
	"fmt"
	"sort"
	"strings"
)

// Warnings lists what is allowed but probably a mistake: an output set by
// more than one automation or thermostat ("two rules driving one output").
func (c *Config) Warnings() []string {
	drivers := map[string][]string{}
	add := func(out, who string) {
		for _, w := range drivers[out] {
			if w == who {
				return
			}
		}
		drivers[out] = append(drivers[out], who)
	}
	for _, t := range c.Thermostats {
		add(t.Output, "thermostat "+t.ID)
	}
	for _, a := range c.Automations {
		for _, act := range append(append([]Action{}, a.Do...), a.Else...) {
			if _, isOut := c.output(act.Set); isOut {
				add(act.Set, "automation "+a.ID)
			}
			if act.Pulse != "" {
				add(act.Pulse, "automation "+a.ID)
			}
		}
	}
	var out []string
	for o, who := range drivers {
		if len(who) > 1 {
			out = append(out, fmt.Sprintf("warning: output %q is driven by %s; they may fight (make their conditions exclusive)", o, strings.Join(who, " and ")))
		}
	}
	sort.Strings(out)
	return append(out, c.inputWarnings()...)
}

func (c *Config) output(id string) (Output, bool) {
	for _, o := range c.Outputs {
		if o.ID == id {
			return o, true
		}
	}
	return Output{}, false
}

// TriggerString describes a's trigger as meshbox check prints it.
func (a Automation) TriggerString() string {
	switch a.Trigger {
	case TriggerWhen:
		s := fmt.Sprintf("when %s", a.When)
		if a.For > 0 {
			s += " for " + fmtDur(a.For)
		}
		if len(a.Sensors) > 0 {
			s += fmt.Sprintf(" (sensors %s stale after %s)", strings.Join(a.Sensors, ", "), fmtDur(a.Stale))
		}
		return s
	case TriggerAt:
		return "daily at " + a.At + " local time"
	case TriggerCron:
		return fmt.Sprintf("cron %q local time", a.Cron)
	case TriggerSunrise, TriggerSunset:
		if a.Offset == 0 {
			return "at " + a.Trigger
		}
		rel := "after"
		d := a.Offset
		if d < 0 {
			rel, d = "before", -d
		}
		return fmt.Sprintf("%s %s %s", fmtDur(d), rel, a.Trigger)
	case TriggerBoot:
		return "on boot"
	case TriggerEvery:
		return "every " + fmtDur(a.Every)
	}
	return "(no trigger)"
}

// ActionString describes one action.
func (a Action) String() string {
	switch {
	case a.Set != "":
		return fmt.Sprintf("set %s %v", a.Set, a.Value)
	case a.Pulse != "":
		if a.Length > 0 {
			return fmt.Sprintf("pulse %s %s", a.Pulse, fmtDur(a.Length))
		}
		return "pulse " + a.Pulse
	case a.Command != "":
		if a.Value != nil {
			return fmt.Sprintf("command %s %v", a.Command, a.Value)
		}
		return "command " + a.Command
	case a.Delay > 0:
		return "wait " + fmtDur(a.Delay)
	case a.Notify != "":
		return fmt.Sprintf("notify %q", a.Notify)
	case a.Enable != "":
		return "enable " + a.Enable
	case a.Disable != "":
		return "disable " + a.Disable
	}
	return "?"
}

func actionList(as []Action) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// writeLogic appends thermostats and automations to meshbox check's output.
func (c *Config) writeLogic(b *strings.Builder) {
	if l := c.Location; l != nil {
		fmt.Fprintf(b, "\nlocation %g, %g (sunrise/sunset)\n", l.Lat, l.Lon)
	}
	if len(c.Thermostats) == 0 && len(c.Automations) == 0 {
		return
	}
	fmt.Fprintf(b, "\nclock    schedules run %s\n", map[string]string{"synced": "only while the clock is synchronised (NTP)", "any": "on the system clock as it is"}[c.Clock])
	for _, t := range c.Thermostats {
		fmt.Fprintf(b, "thermostat %s: %s %s from %s, target %g ±%g (range %g..%g), min on %s, min off %s, stale %s → %s off",
			t.ID, t.Mode, t.Output, t.Sensor, t.Target, t.Deadband, t.Range[0], t.Range[1], fmtDur(t.MinOn), fmtDur(t.MinOff), fmtDur(t.Stale), t.Output)
		if t.Override > 0 {
			fmt.Fprintf(b, ", phone override %s", fmtDur(t.Override))
		} else {
			b.WriteString(", phone override until the next transition")
		}
		b.WriteString("\n")
	}
	for _, a := range c.Automations {
		en := ""
		if a.Enabled != nil && !*a.Enabled {
			en = " (disabled)"
		}
		fmt.Fprintf(b, "automation %s%s: %s → %s", a.ID, en, a.TriggerString(), actionList(a.Do))
		if len(a.Else) > 0 {
			fmt.Fprintf(b, "; else %s", actionList(a.Else))
		}
		b.WriteString("\n")
	}
}

// String describes a filter as meshbox check prints it.
func (f Filter) String() string {
	switch {
	case f.Median > 0:
		return fmt.Sprintf("median %d", f.Median)
	case f.MovingAverage > 0:
		return fmt.Sprintf("moving_average %d", f.MovingAverage)
	case len(f.Calibrate) > 0:
		return fmt.Sprintf("calibrate %d points", len(f.Calibrate))
	case len(f.Clamp) == 2:
		return fmt.Sprintf("clamp %g..%g", f.Clamp[0], f.Clamp[1])
	case f.Delta > 0:
		return fmt.Sprintf("delta %g", f.Delta)
	case f.Throttle > 0:
		return "throttle " + fmtDur(f.Throttle)
	case f.Timeout > 0:
		return "timeout " + fmtDur(f.Timeout)
	}
	return "?"
}

func filterList(fs []Filter) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, ", ")
}

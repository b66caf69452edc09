package config

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// MaxActions bounds the do/else list of one automation.
const MaxActions = 32

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// logic validates location, thermostats and automations (after every
// output, input, sensor and serial id is known).
func (v *validator) logic() {
	cfg, c := v.cfg, v.c
	if l := cfg.Location; l != nil {
		if !finite(l.Lat) || l.Lat < -90 || l.Lat > 90 {
			c.add("location.lat", "%g is not a latitude (-90..90)", l.Lat)
		}
		if !finite(l.Lon) || l.Lon < -180 || l.Lon > 180 {
			c.add("location.lon", "%g is not a longitude (-180..180)", l.Lon)
		}
	}
	v.enum("clock", cfg.Clock, "synced", "any")
	fields := cfg.MetricFields()
	driven := map[string]string{}
	for i := range cfg.Thermostats {
		v.thermostat(i, fields, driven)
	}
	for i := range cfg.Automations {
		f := fmt.Sprintf("automations[%d].", i)
		v.id(f+"id", cfg.Automations[i].ID)
	}
	for _, ids := range [][]string{thermostatIDs(cfg), automationIDs(cfg)} {
		for _, id := range ids {
			if _, ok := fields[id]; ok {
				c.add(v.ids[id]+".id", "id %q is also a sensor field", id)
			}
		}
	}
	for _, ids := range [][]string{thermostatIDs(cfg), automationIDs(cfg)} {
		for _, id := range ids {
			if prev, ok := v.ids[id+"_status"]; ok {
				c.add(v.ids[id]+".id", "%q would clash with %s: %s_status is this one's status control", id, prev, id)
			}
		}
	}
	for _, id := range automationIDs(cfg) {
		if prev, ok := v.ids[id+"_last_run"]; ok {
			c.add(v.ids[id]+".id", "%q would clash with %s: %s_last_run is this one's last-run control", id, prev, id)
		}
	}
	env := cfg.ExprEnv()
	for i := range cfg.Automations {
		v.automation(i, env)
	}
}

func thermostatIDs(cfg *Config) []string {
	var s []string
	for _, t := range cfg.Thermostats {
		s = append(s, t.ID)
	}
	return s
}

func automationIDs(cfg *Config) []string {
	var s []string
	for _, a := range cfg.Automations {
		s = append(s, a.ID)
	}
	return s
}

func (v *validator) thermostat(i int, fields map[string]FieldSource, driven map[string]string) {
	t := &v.cfg.Thermostats[i]
	f := fmt.Sprintf("thermostats[%d].", i)
	v.id(f+"id", t.ID)
	if t.Sensor == "" {
		v.c.add(f+"sensor", "is required (a sensor field, e.g. air_temp)")
	} else if _, ok := fields[t.Sensor]; !ok {
		v.c.add(f+"sensor", "unknown sensor field %q", t.Sensor)
	}
	switch kind, ok := v.kinds[t.Output]; {
	case t.Output == "":
		v.c.add(f+"output", "is required (a switch output)")
	case !ok:
		v.c.add(f+"output", "unknown output %q", t.Output)
	case kind != KindSwitch:
		v.c.add(f+"output", "output %q is kind %s; a thermostat drives a switch output", t.Output, kind)
	default:
		if prev, ok := driven[t.Output]; ok {
			v.c.add(f+"output", "output %q is already driven by thermostat %q", t.Output, prev)
		}
		driven[t.Output] = t.ID
	}
	v.enum(f+"mode", t.Mode, ModeHeat, ModeCool)
	if !v.c.pos.has(f + "target") {
		v.c.add(f+"target", "is required (e.g. target: 20)")
	} else if !finite(t.Target) {
		v.c.add(f+"target", "must be a number")
	}
	if !finite(t.Deadband) || t.Deadband < 0 {
		v.c.add(f+"deadband", "%g must be a number >= 0", t.Deadband)
	}
	v.nonNegative(f+"min_on", t.MinOn)
	v.nonNegative(f+"min_off", t.MinOff)
	v.nonNegative(f+"override", t.Override)
	if t.Stale <= 0 {
		v.c.add(f+"stale", "must be positive (e.g. 60s)")
	}
	switch {
	case len(t.Range) != 2 || !finite(t.Range[0]) || !finite(t.Range[1]):
		v.c.add(f+"range", "want [min, max], e.g. [5, 30]")
	case t.Range[0] >= t.Range[1]:
		v.c.add(f+"range", "min %g is not below max %g", t.Range[0], t.Range[1])
	case t.Target < t.Range[0] || t.Target > t.Range[1]:
		v.c.add(f+"target", "%g is outside range [%g, %g]", t.Target, t.Range[0], t.Range[1])
	}
}

func (v *validator) automation(i int, env map[string]any) {
	a := &v.cfg.Automations[i]
	f := fmt.Sprintf("automations[%d].", i)
	var triggers []string
	has := func(k string, set bool) {
		if set || v.c.pos.has(f+k) {
			triggers = append(triggers, k)
		}
	}
	has("when", a.When != "")
	has("at", a.At != "")
	has("cron", a.Cron != "")
	has("sunrise", a.Sunrise != nil)
	has("sunset", a.Sunset != nil)
	has("on", a.On != "")
	has("every", a.Every != 0)
	switch len(triggers) {
	case 0:
		v.c.add(f+"id", "automation %q has no trigger (when, at, cron, sunrise, sunset, on or every)", a.ID)
	case 1:
		a.Trigger = triggers[0]
		v.trigger(f, a, env)
	default:
		v.c.add(f+triggers[1], "an automation has one trigger; %s and %s are both given", triggers[0], triggers[1])
	}
	if a.Trigger != TriggerWhen {
		for _, k := range []string{"for", "else", "stale"} {
			if v.c.pos.has(f + k) {
				v.c.add(f+k, "applies only to a when: rule")
			}
		}
	}
	if len(a.Do) == 0 && len(a.Else) == 0 {
		v.c.add(f+"do", "is required (a list of actions)")
	}
	v.actions(f+"do", a.Do)
	v.actions(f+"else", a.Else)
}

func (v *validator) trigger(f string, a *Automation, env map[string]any) {
	c := v.c
	switch a.Trigger {
	case TriggerWhen:
		_, names, err := CompileWhen(a.When, env)
		if err != nil {
			c.add(f+"when", "%v", err)
			return
		}
		a.Names = names
		fields := v.cfg.MetricFields()
		for _, n := range names {
			if _, ok := fields[n]; ok {
				a.Sensors = append(a.Sensors, n)
			}
		}
		v.nonNegative(f+"for", a.For)
		if a.Stale <= 0 {
			c.add(f+"stale", "must be positive (e.g. 60s)")
		}
	case TriggerAt:
		if _, _, _, err := ParseClock(a.At); err != nil {
			c.add(f+"at", "%v", err)
		}
	case TriggerCron:
		if _, err := CronParser().Parse(a.Cron); err != nil {
			c.add(f+"cron", "%q: %v (want minute hour day month weekday, e.g. \"30 6 * * 1-5\")", a.Cron, err)
		}
	case TriggerSunrise, TriggerSunset:
		s := a.Sunrise
		if a.Trigger == TriggerSunset {
			s = a.Sunset
		}
		off, err := ParseOffset(deref(s))
		if err != nil {
			c.add(f+a.Trigger, "%v", err)
		}
		a.Offset = off
		if v.cfg.Location == nil {
			c.add(f+a.Trigger, "needs location: {lat: ..., lon: ...} at the top level")
		}
	case TriggerBoot:
		if a.On != "boot" {
			c.add(f+"on", "%q is not boot", a.On)
		}
	case TriggerEvery:
		if a.Every < time.Second {
			c.add(f+"every", "%s is shorter than 1s", a.Every)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (v *validator) actions(path string, acts []Action) {
	if len(acts) > MaxActions {
		v.c.add(path, "%d actions; at most %d", len(acts), MaxActions)
		return
	}
	for j := range acts {
		v.action(fmt.Sprintf("%s[%d]", path, j), &acts[j])
	}
}

func (v *validator) action(p string, a *Action) {
	c := v.c
	var keys []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"set", a.Set != ""}, {"pulse", a.Pulse != ""}, {"command", a.Command != ""}, {"delay", a.Delay != 0},
		{"notify", a.Notify != ""}, {"enable", a.Enable != ""}, {"disable", a.Disable != ""}} {
		if k.set || c.pos.has(p+"."+k.name) {
			keys = append(keys, k.name)
		}
	}
	if len(keys) != 1 {
		if len(keys) == 0 {
			c.add(p, "an action needs one of set, pulse, command, delay, notify, enable, disable")
		} else {
			c.add(p+"."+keys[1], "an action does one thing; %s and %s are both given", keys[0], keys[1])
		}
		return
	}
	only := func(allowed ...string) {
		for _, k := range []string{"value", "length"} {
			ok := false
			for _, al := range allowed {
				ok = ok || al == k
			}
			if !ok && c.pos.has(p+"."+k) {
				c.add(p+"."+k, "does not apply to %s", keys[0])
			}
		}
	}
	switch keys[0] {
	case "set":
		only("value")
		v.setAction(p, a)
	case "pulse":
		only("length")
		switch kind, ok := v.kinds[a.Pulse]; {
		case !ok:
			c.add(p+".pulse", "unknown output %q", a.Pulse)
		case kind == KindPWM:
			c.add(p+".pulse", "output %q is pwm; pulse takes a switch or momentary output", a.Pulse)
		}
		v.nonNegative(p+".length", a.Length)
	case "command":
		only("value")
		v.commandAction(p, a)
	case "delay":
		only()
		if a.Delay <= 0 {
			c.add(p+".delay", "must be positive")
		} else if a.Delay > 24*time.Hour {
			c.add(p+".delay", "%s is longer than 24h", a.Delay)
		}
	case "notify":
		only()
		if len(a.Notify) > 500 || strings.TrimSpace(a.Notify) == "" {
			c.add(p+".notify", "want a message of 1..500 bytes")
		}
	case "enable", "disable":
		only()
		id := a.Enable + a.Disable
		found := false
		for _, x := range v.cfg.Automations {
			found = found || x.ID == id
		}
		if !found {
			c.add(p+"."+keys[0], "unknown automation %q", id)
		}
	}
}

func (v *validator) setAction(p string, a *Action) {
	c := v.c
	if !c.pos.has(p+".value") && a.Value == nil {
		c.add(p+".value", "is required (true/false, or a number for a pwm output or thermostat)")
		return
	}
	num, isNum := toFloat(a.Value)
	if kind, ok := v.kinds[a.Set]; ok {
		switch kind {
		case KindPWM:
			if !isNum || num < 0 || num > 100 {
				c.add(p+".value", "want a number 0..100 for pwm output %q", a.Set)
				return
			}
			a.Value = num
		case KindMomentary:
			if b, ok := a.Value.(bool); !ok || !b {
				c.add(p+".value", "momentary output %q can only be set true (a pulse)", a.Set)
			}
		default:
			if _, ok := a.Value.(bool); !ok {
				c.add(p+".value", "want true or false for switch output %q", a.Set)
			}
		}
		return
	}
	for _, t := range v.cfg.Thermostats {
		if t.ID == a.Set {
			if !isNum {
				c.add(p+".value", "want a number for thermostat %q", a.Set)
			} else if len(t.Range) == 2 && (num < t.Range[0] || num > t.Range[1]) {
				c.add(p+".value", "%g is outside thermostat %q's range [%g, %g]", num, a.Set, t.Range[0], t.Range[1])
			}
			a.Value = num
			return
		}
	}
	for _, x := range v.cfg.Automations {
		if x.ID == a.Set {
			if _, ok := a.Value.(bool); !ok {
				c.add(p+".value", "want true or false for automation %q (enabled)", a.Set)
			}
			return
		}
	}
	c.add(p+".set", "unknown output, thermostat or automation %q", a.Set)
}

func (v *validator) commandAction(p string, a *Action) {
	if a.Command == "all_off" {
		return
	}
	dev, cmd, _ := strings.Cut(a.Command, ".")
	for _, sd := range v.cfg.Serial {
		if sd.ID != dev {
			continue
		}
		if _, ok := sd.Commands[cmd]; !ok {
			v.c.add(p+".command", "serial %q has no command %q", dev, cmd)
		}
		return
	}
	v.c.add(p+".command", "unknown command %q (all_off, or <serial id>.<command>)", a.Command)
}

// toFloat converts a decoded YAML number.
func toFloat(x any) (float64, bool) {
	switch n := x.(type) {
	case float64:
		return n, finite(n)
	case float32:
		return float64(n), finite(float64(n))
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint32:
		return float64(n), true
	}
	return 0, false
}

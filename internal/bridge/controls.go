package bridge

import (
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/sensor"
)

// Control kinds (the same strings as internal/mqttlink).
const (
	KindSwitch    = config.KindSwitch
	KindMomentary = config.KindMomentary
	KindPWM       = config.KindPWM
	KindInput     = "input"
	KindSensor    = "sensor"
	KindSerial    = "serial"
)

// Control describes one value the bridge publishes for a configuration,
// and the frames that carry it: a sync entry with event "broadcast",
// Filter and ValuePath matches them exactly. Command is the action payload
// that drives it (nil for read-only controls); "{{value}}" is the app's
// substitution token.
type Control struct {
	ID        string         // control id: the key in control_snapshot
	Label     string         // config label, default the id
	Kind      string         // KindSwitch ... KindSerial
	Source    string         // the output, input, sensor or serial device id
	ValueKind string         // "bool", "number" or "string"
	Filter    map[string]any // sync filter on the broadcast payload
	ValuePath string         // sync valuePath
	Command   map[string]any // action payload, nil when read-only
	Unit      string         // sensors: °C, %RH, ...; pwm: %
	Min, Max  float64        // value range for numbers (both 0: unknown)
	// Resolution is a sensor field's step (sensor.FieldInfo.Resolution,
	// scaled): its values are rounded to it. 0: not rounded.
	Resolution float64
	Icon       string
}

// Controls lists, in config order, every control the bridge publishes for
// cfg: outputs, inputs, sensor fields (configured, else every driver field
// as "<id>_<field>"), and serial fields (only configured ones, plus the
// line of a text-framed device; other parsed keys appear as
// "<id>_<key>" at run time but cannot be known in advance).
func Controls(cfg *config.Config) []Control {
	var cs []Control
	label := func(l, id string) string {
		if l != "" {
			return l
		}
		return id
	}
	for _, o := range cfg.Outputs {
		kind := o.Kind
		if kind == "" {
			kind = KindSwitch
		}
		c := Control{
			ID: o.ID, Label: label(o.Label, o.ID), Kind: kind, Source: o.ID, ValueKind: "bool",
			Filter:    map[string]any{"msg_type": "state", "target": o.ID},
			ValuePath: "value",
			Command:   map[string]any{"msg_type": "cmd", "target": o.ID, "value": "{{value}}"},
			Icon:      o.Icon,
		}
		if kind == KindPWM {
			c.ValueKind, c.Unit, c.Min, c.Max = "number", "%", 0, 100
		}
		if kind == KindMomentary {
			c.Command["value"] = true
		}
		cs = append(cs, c)
	}
	for _, in := range cfg.Inputs {
		cs = append(cs, Control{
			ID: in.ID, Label: label(in.Label, in.ID), Kind: KindInput, Source: in.ID, ValueKind: "bool",
			Filter:    map[string]any{"msg_type": "state", "target": in.ID},
			ValuePath: "value",
		})
	}
	for _, s := range cfg.Sensors {
		var infos []sensor.FieldInfo
		if d, err := sensor.Lookup(s.Driver); err == nil {
			infos = d.Fields
		}
		info := func(name string) sensor.FieldInfo {
			for _, f := range infos {
				if f.Name == name {
					return f
				}
			}
			return sensor.FieldInfo{Name: name}
		}
		add := func(id, lbl, unit string, lo, hi, res float64) {
			cs = append(cs, Control{
				ID: id, Label: lbl, Kind: KindSensor, Source: s.ID, ValueKind: "number",
				Filter:    map[string]any{"msg_type": "metrics", "source": s.ID},
				ValuePath: id, Unit: unit, Min: lo, Max: hi, Resolution: res,
			})
		}
		if len(s.Fields) == 0 {
			for _, f := range infos {
				add(s.ID+"_"+f.Name, label(s.Label, s.ID)+" "+f.Name, f.Unit, f.Min, f.Max, f.Resolution)
			}
			continue
		}
		for _, f := range s.Fields {
			src := f.Source
			if src == "" {
				src = f.Name
			}
			fi := info(src)
			unit, lo, hi := f.Unit, f.Min, f.Max
			if unit == "" {
				unit = fi.Unit
			}
			if lo == 0 && hi == 0 {
				lo, hi = scaled(f, fi.Min), scaled(f, fi.Max)
			}
			add(f.Name, label(f.Label, f.Name), unit, lo, hi, FieldResolution(s.Driver, f))
		}
	}
	for _, d := range cfg.Serial {
		filter := map[string]any{"msg_type": "metrics", "source": d.ID}
		if d.Framing == config.FramingText {
			cs = append(cs, Control{
				ID: d.ID, Label: label(d.Label, d.ID), Kind: KindSerial, Source: d.ID, ValueKind: "string",
				Filter: filter, ValuePath: d.ID,
			})
			continue
		}
		for _, f := range d.Fields {
			cs = append(cs, Control{
				ID: f.Name, Label: label(f.Label, f.Name), Kind: KindSerial, Source: d.ID, ValueKind: "number",
				Filter: filter, ValuePath: f.Name, Unit: f.Unit, Min: f.Min, Max: f.Max,
			})
		}
	}
	return cs
}

package config

import "fmt"

// inputWarnings: inputs whose pull and active level disagree with a button
// to GND (part of Warnings).
func (c *Config) inputWarnings() []string {
	var w []string
	if c.Path != "" && len(c.Outputs)+len(c.Inputs)+len(c.Sensors)+len(c.Serial) == 0 {
		w = append(w, "warning: the file configures no outputs, inputs, sensors or serial devices: the box runs as a relay only (see examples/ for wiring)")
	}
	for _, o := range c.Outputs {
		if o.Kind == KindSwitch && o.Pulse > 0 && o.Pulse != DefaultPulse {
			w = append(w, fmt.Sprintf("warning: output %s: pulse: %s on a switch only sets the length of its \"pulse\" command; a tap-and-release button is kind: momentary", o.ID, o.Pulse))
		}
	}
	for _, d := range c.Serial {
		if d.Framing != FramingText && len(d.Fields) == 0 {
			w = append(w, fmt.Sprintf("warning: serial %s: no fields: its values are broadcast as %s_<key> but the layout and page get no widget for them; list the keys under fields:", d.ID, d.ID))
		}
	}
	for _, in := range c.Inputs {
		if in.Pull == "up" && !in.ActiveLow {
			what := "input"
			if in.Pairing {
				what = "pairing button"
			}
			w = append(w, fmt.Sprintf("warning: input %s (%s): pull: up without active_low: true — a %s wired to GND reads active when RELEASED; add active_low: true (or pull: down with the button to 3V3)",
				in.ID, in.Pin, what))
		}
	}
	return w
}

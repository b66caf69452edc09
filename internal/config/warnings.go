package config

import "fmt"

// inputWarnings: inputs whose pull and active level disagree with a button
// to GND (part of Warnings).
func (c *Config) inputWarnings() []string {
	var w []string
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

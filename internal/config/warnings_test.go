package config

import (
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"", "configures no outputs, inputs, sensors or serial devices"},
		{"outputs:\n  - {id: a, pin: 5, pulse: 2s}\n", `output a: pulse: 2s on a switch only sets the length of its "pulse" command`},
		{"inputs:\n  - {id: b, pin: 26, pairing: true}\n", "input b (BCM26 (pin 37)): pull: up without active_low: true — a pairing button wired to GND reads active when RELEASED"},
	}
	for _, c := range cases {
		cfg, err := Parse("w.yaml", []byte(c.yaml))
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		if got := strings.Join(cfg.Warnings(), "\n"); !strings.Contains(got, c.want) {
			t.Errorf("%q: warnings %q, want %q", c.yaml, got, c.want)
		}
	}
	cfg, err := Parse("ok.yaml", []byte("outputs:\n  - {id: a, pin: 5, kind: momentary, pulse: 2s}\ninputs:\n  - {id: b, pin: 26, active_low: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("clean config warns: %q", w)
	}
}

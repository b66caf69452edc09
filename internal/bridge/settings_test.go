package bridge

import (
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

func TestResolveOutput(t *testing.T) {
	s, err := resolveOutput(config.Output{ID: "a"})
	if err != nil || s.kind != outSwitch || s.boot != bootOff || s.exit != exitOff ||
		s.freq != config.DefaultFrequency || s.pulse != config.DefaultPulse {
		t.Fatalf("defaults = %+v, %v", s, err)
	}
	s, err = resolveOutput(config.Output{ID: "b", Kind: "pwm", Boot: "restore", Exit: "keep", Frequency: 25000, Pulse: time.Second})
	if err != nil || s.kind != outPWM || s.boot != bootRestore || s.exit != exitKeep || s.freq != 25000 || s.pulse != time.Second {
		t.Fatalf("pwm = %+v, %v", s, err)
	}
	for _, bad := range []config.Output{{ID: "k", Kind: "relay"}, {ID: "b", Boot: "maybe"}, {ID: "e", Exit: "later"}} {
		if _, err := resolveOutput(bad); err == nil || !strings.Contains(err.Error(), "output "+bad.ID) {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}
	if _, err := resolvePull(config.Input{ID: "i", Pull: "sideways"}); err == nil {
		t.Error("bad pull accepted")
	}
	// New refuses such a config instead of defaulting silently.
	cfg := &config.Config{Outputs: []config.Output{{ID: "x", Pin: bcm(5), Kind: "relay"}}}
	if _, err := New(cfg, newFakeHost(), Options{}); err == nil || !strings.Contains(err.Error(), `unknown kind "relay"`) {
		t.Errorf("New: %v", err)
	}
}

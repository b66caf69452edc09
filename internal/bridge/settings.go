package bridge

import (
	"fmt"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
)

// The bridge reads the configuration once, in New, into typed values: an
// unknown kind, boot, exit or pull is an error there (config validation
// reports it earlier with file:line), never a silent default later. Zero
// values take the config package's defaults (config.Default*), the one
// place where each default is set; a config from config.Load has them
// filled already.

// outKind is an output's kind.
type outKind uint8

const (
	outSwitch outKind = iota
	outMomentary
	outPWM
)

func (k outKind) String() string {
	switch k {
	case outMomentary:
		return config.KindMomentary
	case outPWM:
		return config.KindPWM
	}
	return config.KindSwitch
}

// bootState is an output's state at start.
type bootState uint8

const (
	bootOff bootState = iota
	bootOn
	bootRestore
)

// exitState is an output's state when the bridge stops.
type exitState uint8

const (
	exitOff exitState = iota
	exitOn
	exitKeep
)

// outputSpec is one output's resolved settings.
type outputSpec struct {
	kind  outKind
	boot  bootState
	exit  exitState
	freq  float64       // pwm
	pulse time.Duration // momentary pulse, default pulse command
}

func resolveOutput(oc config.Output) (outputSpec, error) {
	s := outputSpec{freq: oc.Frequency, pulse: oc.Pulse}
	switch oc.Kind {
	case "", config.KindSwitch:
		s.kind = outSwitch
	case config.KindMomentary:
		s.kind = outMomentary
	case config.KindPWM:
		s.kind = outPWM
	default:
		return s, fmt.Errorf("output %s: unknown kind %q", oc.ID, oc.Kind)
	}
	switch oc.Boot {
	case "", "off":
		s.boot = bootOff
	case "on":
		s.boot = bootOn
	case "restore":
		s.boot = bootRestore
	default:
		return s, fmt.Errorf("output %s: unknown boot state %q", oc.ID, oc.Boot)
	}
	switch oc.Exit {
	case "", "off":
		s.exit = exitOff
	case "on":
		s.exit = exitOn
	case "keep":
		s.exit = exitKeep
	default:
		return s, fmt.Errorf("output %s: unknown exit state %q", oc.ID, oc.Exit)
	}
	if s.freq <= 0 {
		s.freq = config.DefaultFrequency
	}
	if s.pulse <= 0 {
		s.pulse = config.DefaultPulse
	}
	return s, nil
}

func resolvePull(ic config.Input) (gpio.Pull, error) {
	switch ic.Pull {
	case "", "up":
		return gpio.PullUp, nil
	case "down":
		return gpio.PullDown, nil
	case "none":
		return gpio.PullNone, nil
	}
	return gpio.PullUp, fmt.Errorf("input %s: unknown pull %q", ic.ID, ic.Pull)
}

// orDefault is d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/meshbox/meshbox/internal/relay"
)

// Defaults (documented on the fields in types.go).
const (
	DefaultName     = "meshbox"
	DefaultChannel  = "home"
	DefaultListen   = ":8765"
	DefaultStateDir = "/var/lib/meshbox"
	DefaultPath     = "/etc/meshbox/meshbox.yaml"
	DefaultPulse    = 500 * time.Millisecond
	// MaxPulse is the longest pulse a momentary output may have.
	MaxPulse             = 10 * time.Minute
	DefaultFrequency     = 1000.0
	DefaultDebounce      = 20 * time.Millisecond
	DefaultInterval      = 2 * time.Second
	DefaultBus           = "1"
	DefaultBaud          = 115200
	DefaultPairingWindow = 10 * time.Minute
	DefaultActuationRate = 5.0
)

// applyDefaults fills every unset field. Fields written in the file (pos)
// are kept even when zero where zero is meaningful (pwm_chip, pwm_channel).
func applyDefaults(cfg *Config, pos *positions) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	// An empty list ("interlocks: []") is the same as none.
	if len(cfg.Outputs) == 0 {
		cfg.Outputs = nil
	}
	if len(cfg.Inputs) == 0 {
		cfg.Inputs = nil
	}
	if len(cfg.Sensors) == 0 {
		cfg.Sensors = nil
	}
	if len(cfg.Serial) == 0 {
		cfg.Serial = nil
	}
	if len(cfg.Interlocks) == 0 {
		cfg.Interlocks = nil
	}
	def(&cfg.Name, DefaultName)
	def(&cfg.Channel, DefaultChannel)
	def(&cfg.Listen, DefaultListen)
	def(&cfg.StateDir, DefaultStateDir)
	if cfg.ActuationRate == 0 {
		cfg.ActuationRate = DefaultActuationRate
	}
	// An explicit "window: 0s" is an error (validate), not the default;
	// with always: true the window does not matter.
	if pos == nil || !pos.has("pairing.window") || cfg.Pairing.Always {
		defDur(&cfg.Pairing.Window, DefaultPairingWindow)
	}
	fillZero(&cfg.Relay, relay.DefaultConfig())
	applyHistoryDefaults(&cfg.History)
	h, _ := lookupHeader(cfg.BoardModel)
	for i := range cfg.Outputs {
		o := &cfg.Outputs[i]
		def(&o.Label, o.ID)
		def(&o.Kind, KindSwitch)
		def(&o.Boot, "off")
		def(&o.Exit, "off")
		switch o.Kind {
		case KindPWM:
			if o.Frequency == 0 {
				o.Frequency = DefaultFrequency
			}
			if pin, err := ResolvePin(o.Pin.Raw, h); err == nil && pin.Chip == "" {
				if ch, ok := h.PWM(pin.BCM); ok {
					p := fmt.Sprintf("outputs[%d].", i)
					if !pos.has(p + "pwm_chip") {
						o.PWMChip = ch.Chip
					}
					if !pos.has(p + "pwm_channel") {
						o.PWMChannel = ch.Channel
					}
				}
			}
		case KindSwitch, KindMomentary:
			defDur(&o.Pulse, DefaultPulse)
		}
	}
	for i := range cfg.Inputs {
		in := &cfg.Inputs[i]
		def(&in.Label, in.ID)
		def(&in.Pull, "up")
		def(&in.Broadcast, "state")
		defDur(&in.Debounce, DefaultDebounce)
	}
	drivers := Drivers()
	for i := range cfg.Sensors {
		s := &cfg.Sensors[i]
		def(&s.Label, s.ID)
		if pos == nil || !pos.has(fmt.Sprintf("sensors[%d].interval", i)) {
			defDur(&s.Interval, DefaultInterval) // a written 0s is refused, not defaulted
		}
		if d, ok := drivers[strings.ToLower(s.Driver)]; ok {
			s.Driver = d.Name
		}
		d, ok := drivers[s.Driver]
		if !ok {
			continue
		}
		if d.I2C {
			def(&s.Bus, DefaultBus)
			if s.Address == 0 {
				s.Address = d.Default
			}
		}
		if s.Driver == DriverCPUTemp {
			def(&s.Path, d.DefaultPath)
		}
		fieldDefaults(s.Fields, d.Fields)
	}
	for i := range cfg.Serial {
		sd := &cfg.Serial[i]
		def(&sd.Label, sd.ID)
		def(&sd.Framing, FramingKV)
		if sd.Baud == 0 {
			sd.Baud = DefaultBaud
		}
		fieldDefaults(sd.Fields, nil)
	}
	for i := range cfg.Interlocks {
		def(&cfg.Interlocks[i].ID, fmt.Sprintf("interlock%d", i+1))
	}
	logicDefaults(cfg, pos)
	if m := cfg.MQTT; m != nil {
		def(&m.BaseTopic, "meshbox/"+cfg.Name)
		def(&m.DiscoveryPrefix, "homeassistant")
		def(&m.ClientID, cfg.Name)
	}
	if u := cfg.Upstream; u != nil {
		def(&u.Name, cfg.Name)
		def(&u.Channel, cfg.Channel)
	}
}

func fieldDefaults(fs []Field, units map[string]string) {
	for j := range fs {
		f := &fs[j]
		if f.Source == "" {
			f.Source = f.Name
		}
		if f.Label == "" {
			f.Label = f.Name
		}
		if f.Unit == "" {
			f.Unit = units[f.Source]
		}
		if f.Scale == 0 {
			f.Scale = 1
		}
	}
}

// fillZero copies every field of def into *dst where *dst holds the zero
// value (the relay's knobs: zero means "the reference default").
func fillZero(dst *relay.Config, def relay.Config) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(def)
	for i := 0; i < d.NumField(); i++ {
		if f := d.Field(i); f.CanSet() && f.IsZero() && d.Type().Field(i).Name != "AuthToken" {
			f.Set(s.Field(i))
		}
	}
}

package metrics

import (
	"time"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
)

// Layout is what the tracker knows of a configuration.
type Layout struct {
	Sensors []SensorInfo
	Fields  []FieldInfo
	Outputs []OutputInfo
	Inputs  []string
}

// SensorInfo is one reading source: a sensor or a serial device.
type SensorInfo struct {
	ID string
	// Interval is the read period; 0 (serial devices, which speak when
	// they like) never goes stale.
	Interval time.Duration
}

// FieldInfo is one published field of a source.
type FieldInfo struct {
	ID         string // metric key ("climate_temperature")
	Source     string // sensor or serial device id
	Unit       string
	Resolution float64
}

// OutputInfo is one output.
type OutputInfo struct {
	ID  string
	PWM bool
}

// defaultInterval is the bridge's read period when none is configured.
const defaultInterval = 2 * time.Second

// LayoutOf lists cfg's sensors, serial devices, fields, outputs and inputs.
func LayoutOf(cfg *config.Config) Layout {
	var l Layout
	for _, s := range cfg.Sensors {
		iv := s.Interval
		if iv <= 0 {
			iv = defaultInterval
		}
		l.Sensors = append(l.Sensors, SensorInfo{ID: s.ID, Interval: iv})
	}
	for _, d := range cfg.Serial {
		l.Sensors = append(l.Sensors, SensorInfo{ID: d.ID})
	}
	for _, c := range bridge.Controls(cfg) {
		switch c.Kind {
		case bridge.KindSensor, bridge.KindSerial:
			l.Fields = append(l.Fields, FieldInfo{ID: c.ID, Source: c.Source, Unit: c.Unit, Resolution: c.Resolution})
		case bridge.KindInput:
			l.Inputs = append(l.Inputs, c.ID)
		case bridge.KindSwitch, bridge.KindMomentary, bridge.KindPWM:
			l.Outputs = append(l.Outputs, OutputInfo{ID: c.ID, PWM: c.Kind == bridge.KindPWM})
		}
	}
	return l
}

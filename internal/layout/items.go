package layout

import (
	"slices"
	"strings"
	"unicode"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/sensor"
)

// Item kinds.
const (
	KindSwitch    = "switch"    // bool output -> toggle
	KindMomentary = "momentary" // pulse output -> button
	KindPWM       = "pwm"       // 0..100 % output -> slider
	KindInput     = "input"     // bool input -> statusLight
	KindNumber    = "number"    // numeric field -> gauge / label / sparkline
	KindText      = "text"      // string field -> label
	KindCommand   = "command"   // a serial device's fixed command -> button
)

// Item is one value the layout shows or sets, with the broadcast frame
// shape (filter + valuePath) the bridge sends for it and the command payload
// that drives it.
type Item struct {
	ID        string
	Kind      string
	Label     string
	Icon      string
	Unit      string
	Min, Max  float64
	HasRange  bool
	Filter    map[string]any
	ValuePath string
	Command   map[string]any // action payload; nil for read-only items
}

// Items lists what the layout shows for cfg, in config order (outputs,
// inputs, sensor fields, serial fields), from the bridge's own description
// of the frames it sends (bridge.Controls).
func Items(cfg *config.Config) []Item {
	controls := bridge.Controls(cfg)
	items := make([]Item, 0, len(controls))
	for _, c := range controls {
		if c.Kind == bridge.KindInput && isPairingInput(cfg, c.ID) {
			continue // the pairing button is the box's, not the user's hardware
		}
		it := Item{ID: c.ID, Label: c.Label, Icon: c.Icon, Unit: c.Unit,
			Filter: c.Filter, ValuePath: c.ValuePath, Command: c.Command}
		switch c.Kind {
		case bridge.KindSwitch, bridge.KindMomentary, bridge.KindPWM:
			it.Kind = c.Kind
		case bridge.KindInput:
			it.Kind = KindInput
		default: // sensor, serial
			it.Kind = KindNumber
			if c.ValueKind == "string" {
				it.Kind = KindText
			}
		}
		if it.Kind == KindNumber {
			it.Min, it.Max, it.HasRange = c.Min, c.Max, c.Min < c.Max
			if c.Kind == bridge.KindSensor {
				if lo, hi, ok := sensorRange(cfg, c); ok {
					it.Min, it.Max, it.HasRange = lo, hi, true
				}
			}
			if it.Icon == "" {
				it.Icon = unitIcon(it.Unit, "")
			}
		}
		it.Label = itemLabel(cfg, c)
		if it.Kind == KindText && it.Icon == "" {
			it.Icon = "text.alignleft"
		}
		items = append(items, it)
	}
	items = trendItems(cfg, items)
	items = append(items, commandItems(cfg)...)
	return append(items, automationItems(cfg)...)
}

// commandItems are a button per serial device command that takes no value
// ("led_on: LED 1"), sending {"msg_type":"command","command":NAME,
// "target":DEVICE}. A command with {{value}} gets no generated control (its
// range is unknown): send cmd target "DEVICE.NAME" with a value, or add one
// by hand.
func commandItems(cfg *config.Config) []Item {
	var items []Item
	for _, d := range cfg.Serial {
		names := make([]string, 0, len(d.Commands))
		for n, line := range d.Commands {
			if !strings.Contains(line, "{{value}}") {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			label := d.Label
			if label == "" {
				label = d.ID
			}
			items = append(items, Item{
				ID: d.ID + "." + n, Kind: KindCommand, Label: label + " " + strings.ReplaceAll(n, "_", " "),
				Icon:    "paperplane",
				Command: map[string]any{"msg_type": "command", "command": n, "target": d.ID},
			})
		}
	}
	return items
}

// sensorRange returns a display range for a sensor field whose config sets
// no min/max: tighter than the chip's measuring range where that range would
// pin the needle at one end (ambient temperature, air pressure, indoor light).
func sensorRange(cfg *config.Config, c bridge.Control) (float64, float64, bool) {
	for _, s := range cfg.Sensors {
		if s.ID != c.Source {
			continue
		}
		field := strings.TrimPrefix(c.ID, s.ID+"_")
		for _, f := range s.Fields {
			if f.Name != c.ID {
				continue
			}
			if f.Min != 0 || f.Max != 0 {
				return 0, 0, false // configured: keep it
			}
			if f.Scale != 0 && f.Scale != 1 || f.Offset != 0 {
				return 0, 0, false // rescaled: the bridge scaled the range
			}
			field = f.Source
			if field == "" {
				field = f.Name
			}
		}
		return displayRange(strings.ToLower(s.Driver), field)
	}
	return 0, 0, false
}

func displayRange(driver, field string) (float64, float64, bool) {
	switch {
	case field == "temperature" && driver == config.DriverCPUTemp:
		return 20, 90, true
	case field == "temperature" && driver == config.DriverDS18B20:
		return -20, 100, true
	case field == "temperature":
		return -10, 50, true
	case field == "humidity":
		return 0, 100, true
	case field == "pressure":
		return 950, 1050, true
	case field == "lux":
		return 0, 2000, true
	}
	return 0, 0, false
}

func unitIcon(unit, field string) string {
	switch field {
	case "temperature":
		return "thermometer.medium"
	case "humidity":
		return "humidity"
	case "pressure":
		return "barometer"
	case "lux":
		return "sun.max"
	}
	switch unit {
	case "°C", "°F":
		return "thermometer.medium"
	case "%RH", "%":
		return "humidity"
	case "hPa":
		return "barometer"
	case "lx":
		return "sun.max"
	case "V", "mV":
		return "bolt"
	case "A", "mA":
		return "bolt.horizontal"
	case "W":
		return "powerplug"
	}
	return "chart.xyaxis.line"
}

func isPairingInput(cfg *config.Config, id string) bool {
	for _, in := range cfg.Inputs {
		if in.ID == id {
			return in.Pairing
		}
	}
	return false
}

// itemLabel makes the bridge's default labels readable: an id used as its
// own label is humanised ("air_temp" -> "Air temp"), and the single field of
// a one-field sensor is named after the sensor ("Soil temperature").
func itemLabel(cfg *config.Config, c bridge.Control) string {
	if c.Kind == bridge.KindSensor {
		for _, s := range cfg.Sensors {
			if s.ID != c.Source || len(s.Fields) > 0 {
				continue
			}
			if d, err := sensor.Lookup(s.Driver); err == nil && len(d.Fields) == 1 {
				if s.Label != "" && s.Label != s.ID {
					return s.Label
				}
				return humanize(s.ID)
			}
		}
	}
	if c.Label == "" || c.Label == c.ID {
		return humanize(c.ID)
	}
	if c.Kind == bridge.KindSensor {
		// "<sensor label> <field>": the label may be the sensor id.
		return capitalize(c.Label)
	}
	return c.Label
}

// humanize turns an identifier into a label: separators become spaces and
// the first letter is upper case.
func humanize(s string) string {
	return capitalize(strings.NewReplacer("_", " ", "-", " ").Replace(s))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

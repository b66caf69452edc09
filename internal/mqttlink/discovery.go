package mqttlink

import (
	"encoding/json"
	"sort"
)

// discoveryEntry is one Home Assistant discovery message.
type discoveryEntry struct {
	Topic   string
	Payload []byte
}

// discovery returns the Home Assistant discovery messages for controls,
// sorted by topic. Every entity belongs to one device per box.
func (o *Options) discovery(controls []Control) []discoveryEntry {
	device := map[string]any{
		"identifiers":  []string{"meshbox_" + o.NodeID},
		"name":         o.DeviceName,
		"manufacturer": "meshbox",
		"model":        "meshbox",
	}
	var out []discoveryEntry
	for _, c := range controls {
		component := ""
		cfg := map[string]any{
			"name":               label(c),
			"unique_id":          "meshbox_" + o.NodeID + "_" + c.ID,
			"object_id":          o.NodeID + "_" + c.ID,
			"availability_topic": o.availabilityTopic(),
			"device":             device,
		}
		switch c.Kind {
		case KindSwitch:
			component = "switch"
			cfg["state_topic"] = o.stateTopic(c.ID)
			cfg["command_topic"] = o.commandTopic(c.ID)
			cfg["payload_on"], cfg["payload_off"] = "ON", "OFF"
		case KindMomentary:
			component = "button"
			cfg["command_topic"] = o.commandTopic(c.ID)
			cfg["payload_press"] = "PRESS"
		case KindPWM:
			component = "number"
			cfg["state_topic"] = o.stateTopic(c.ID)
			cfg["command_topic"] = o.commandTopic(c.ID)
			lo, hi := c.Min, c.Max
			if lo == 0 && hi == 0 {
				hi = 100
			}
			cfg["min"], cfg["max"], cfg["step"] = lo, hi, 1
			cfg["unit_of_measurement"] = "%"
		case KindThermostat:
			// A thermostat: target set and shown, current temperature from
			// its sensor field, action from its "<id>_status" control.
			component = "climate"
			cfg["temperature_command_topic"] = o.commandTopic(c.ID)
			cfg["temperature_state_topic"] = o.stateTopic(c.ID)
			cfg["current_temperature_topic"] = o.stateTopic(c.Sensor)
			cfg["action_topic"] = o.stateTopic(c.ID + "_status")
			cfg["action_template"] = "{{ value if value in ['heating', 'cooling'] else 'idle' }}"
			cfg["modes"] = []string{c.Mode}
			cfg["min_temp"], cfg["max_temp"], cfg["temp_step"] = c.Min, c.Max, 0.5
		case KindInput:
			component = "binary_sensor"
			cfg["state_topic"] = o.stateTopic(c.ID)
			cfg["payload_on"], cfg["payload_off"] = "ON", "OFF"
		case KindSensor:
			component = "sensor"
			cfg["state_topic"] = o.stateTopic(c.ID)
			if c.Text {
				break
			}
			cfg["state_class"] = "measurement"
			if c.Unit != "" {
				cfg["unit_of_measurement"] = c.Unit
			}
			if c.DeviceClass != "" {
				cfg["device_class"] = c.DeviceClass
			}
		default:
			continue
		}
		b, _ := json.Marshal(cfg) // only strings, numbers and maps: cannot fail
		out = append(out, discoveryEntry{
			Topic:   o.DiscoveryPrefix + "/" + component + "/" + o.NodeID + "/" + c.ID + "/config",
			Payload: b,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

func label(c Control) string {
	if c.Label != "" {
		return c.Label
	}
	return c.ID
}

// DeviceClass guesses a Home Assistant device class from a unit.
func DeviceClass(unit string) string {
	switch unit {
	case "°C", "C", "degC", "°F":
		return "temperature"
	case "%RH", "%rh":
		return "humidity"
	case "hPa", "Pa", "kPa", "mbar":
		return "pressure"
	case "lx", "lux":
		return "illuminance"
	case "V", "mV":
		return "voltage"
	case "A", "mA":
		return "current"
	case "W", "mW":
		return "power"
	}
	return ""
}

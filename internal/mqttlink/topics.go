package mqttlink

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

func (o *Options) availabilityTopic() string     { return o.Base + "/availability" }
func (o *Options) stateTopic(id string) string   { return o.Base + "/" + id + "/state" }
func (o *Options) commandTopic(id string) string { return o.Base + "/" + id + "/set" }
func (o *Options) errorTopic(id string) string   { return o.Base + "/" + id + "/error" }

// haStatusTopic is where Home Assistant publishes its birth ("online") and
// last will ("offline") messages.
func (o *Options) haStatusTopic() string { return o.DiscoveryPrefix + "/status" }

// commandTarget returns the control id of a command topic, or "".
func (o *Options) commandTarget(topic string) string {
	rest, ok := strings.CutPrefix(topic, o.Base+"/")
	if !ok {
		return ""
	}
	id, ok := strings.CutSuffix(rest, "/set")
	if !ok || id == "" || strings.Contains(id, "/") {
		return ""
	}
	return id
}

// formatValue renders a control value as an MQTT state payload.
func formatValue(v any) []byte {
	switch x := v.(type) {
	case bool:
		if x {
			return []byte("ON")
		}
		return []byte("OFF")
	case float64:
		return strconv.AppendFloat(nil, x, 'f', -1, 64)
	case float32:
		return strconv.AppendFloat(nil, float64(x), 'f', -1, 32)
	case int:
		return strconv.AppendInt(nil, int64(x), 10)
	case int64:
		return strconv.AppendInt(nil, x, 10)
	case uint64:
		return strconv.AppendUint(nil, x, 10)
	case string:
		return []byte(x)
	case nil:
		return []byte("")
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return []byte(fmt.Sprint(x))
		}
		return b
	}
}

// parseCommand turns a command payload into the value Apply takes for a
// control of the given kind.
func parseCommand(kind string, payload []byte) (any, error) {
	s := strings.TrimSpace(string(payload))
	switch kind {
	case KindSwitch:
		switch strings.ToLower(s) {
		case "on", "true", "1", "yes":
			return true, nil
		case "off", "false", "0", "no":
			return false, nil
		}
		return nil, fmt.Errorf("switch command %q is not ON or OFF", s)
	case KindMomentary:
		switch strings.ToLower(s) {
		case "press", "on", "true", "1", "":
			return true, nil
		}
		return nil, fmt.Errorf("button command %q is not PRESS", s)
	case KindPWM, KindThermostat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("number command %q is not a number", s)
		}
		return f, nil
	}
	return nil, fmt.Errorf("%s controls take no commands", kind)
}

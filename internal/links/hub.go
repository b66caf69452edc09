package links

import (
	"context"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/mqttlink"
)

// Hub adapts a bridge to mqttlink.Hub.
type Hub struct{ B *bridge.Bridge }

// Snapshot returns every control's current value.
func (h Hub) Snapshot() map[string]any {
	_, m := h.B.Snapshot()
	return m
}

// Subscribe forwards bridge changes to fn. fn runs on the bridge's goroutine
// (maybe under an output lock): the mqttlink callback only stores the value
// and wakes its sender, it never blocks nor calls back into the bridge.
func (h Hub) Subscribe(fn func(id string, value any)) (cancel func()) {
	return h.B.Subscribe(func(c bridge.Change) { fn(c.ID, c.Value) })
}

// Apply drives a control through bridge.Apply, the phone's cmd path.
func (h Hub) Apply(ctx context.Context, target string, value any, from string) (any, error) {
	return h.B.Apply(ctx, target, value, from)
}

// Controls lists the MQTT controls for cfg: every output, input, sensor
// field and configured serial field, in config order.
func Controls(cfg *config.Config) []mqttlink.Control {
	var out []mqttlink.Control
	for _, c := range bridge.Controls(cfg) {
		mc := mqttlink.Control{ID: c.ID, Label: c.Label, Unit: c.Unit, Min: c.Min, Max: c.Max, Resolution: c.Resolution}
		switch c.Kind {
		case bridge.KindSwitch:
			mc.Kind = mqttlink.KindSwitch
		case bridge.KindMomentary:
			mc.Kind = mqttlink.KindMomentary
		case bridge.KindPWM:
			mc.Kind = mqttlink.KindPWM
		case bridge.KindInput:
			mc.Kind = mqttlink.KindInput
		case bridge.KindSensor, bridge.KindSerial:
			mc.Kind = mqttlink.KindSensor
			mc.DeviceClass = mqttlink.DeviceClass(c.Unit)
			mc.Text = c.ValueKind == "string"
		default:
			continue
		}
		out = append(out, mc)
	}
	return out
}

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

// Subscribe forwards the bridge's state and metrics events to fn, one
// value per control, from its own subscription (bounded: a slow broker
// never slows the hardware; mqttlink keeps the newest value per topic).
// fn runs on the subscription's goroutine; cancel stops it and waits.
func (h Hub) Subscribe(fn func(id string, value any)) (cancel func()) {
	sub := h.B.Subscribe("mqtt", bridge.SubscribeOptions{
		Kinds: []bridge.EventKind{bridge.EventState, bridge.EventMetrics},
		Queue: 1024,
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := map[string]any{} // a reading repeats unchanged values: forward changes only
		forward := func(id string, v any) {
			if old, ok := last[id]; ok && old == v {
				return
			}
			last[id] = v
			fn(id, v)
		}
		for ev := range sub.C() {
			switch ev.Kind {
			case bridge.EventState:
				forward(ev.ID, ev.Value)
			case bridge.EventMetrics:
				for k, v := range ev.Fields {
					forward(k, v)
				}
			}
		}
	}()
	return func() { sub.Close(); <-done }
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
	// The box's own logic: a thermostat is a climate entity, an
	// automation's enabled flag a switch, each status a text sensor.
	for _, t := range cfg.Thermostats {
		lo, hi := 5.0, 30.0
		if len(t.Range) == 2 {
			lo, hi = t.Range[0], t.Range[1]
		}
		out = append(out, mqttlink.Control{ID: t.ID, Label: t.Label, Kind: mqttlink.KindThermostat, Min: lo, Max: hi, Sensor: t.Sensor, Mode: t.Mode},
			mqttlink.Control{ID: t.ID + "_status", Label: t.Label + " status", Kind: mqttlink.KindSensor, Text: true})
	}
	for _, a := range cfg.Automations {
		out = append(out, mqttlink.Control{ID: a.ID, Label: a.Label, Kind: mqttlink.KindSwitch},
			mqttlink.Control{ID: a.ID + "_status", Label: a.Label + " status", Kind: mqttlink.KindSensor, Text: true},
			mqttlink.Control{ID: a.ID + "_last_run", Label: a.Label + " last run", Kind: mqttlink.KindSensor, Text: true})
	}
	return out
}

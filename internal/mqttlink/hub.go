package mqttlink

import "context"

// Control kinds, as the bridge describes them.
const (
	KindSwitch    = "switch"
	KindMomentary = "momentary"
	KindPWM       = "pwm"
	KindInput     = "input"
	KindSensor    = "sensor"
	// KindThermostat is a thermostat's target (a Home Assistant climate
	// entity; Sensor is its current-temperature field, Mode heat or cool).
	KindThermostat = "thermostat"
)

// Control describes one published value.
type Control struct {
	ID          string
	Label       string
	Kind        string
	Unit        string  // sensors
	DeviceClass string  // sensors: temperature, humidity, pressure, illuminance, voltage, current, power
	Min, Max    float64 // pwm range (0..100 when both zero)
	Text        bool    // sensors: the value is text (no state_class, unit or device_class)
	// Resolution rounds a sensor's numbers (sensor.Round) before they are
	// published, as the mesh broadcasts them. 0: as given.
	Resolution float64
	// Thermostats: the sensor field measured and the mode (heat | cool).
	Sensor, Mode string
}

// Hub is the part of the bridge the link uses.
type Hub interface {
	// Snapshot returns every control's current value.
	Snapshot() map[string]any
	// Subscribe calls fn after every change until cancel is called (from
	// the hub's own goroutine; cancel waits for it). fn must not block.
	Subscribe(fn func(id string, value any)) (cancel func())
	// Apply drives a control exactly as a phone command would.
	Apply(ctx context.Context, target string, value any, from string) (any, error)
}

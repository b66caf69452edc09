package metrics

import "github.com/meshbox/meshbox/internal/sensor"

// quantity is the base-unit family a sensor unit maps to.
type quantity struct {
	family string
	help   string
	conv   func(float64) float64
}

func times(k float64) func(float64) float64 { return func(v float64) float64 { return v * k } }

// quantities lists the families of known units, by family name.
func quantities() []quantity {
	return []quantity{
		{"meshbox_temperature_celsius", "Sensor temperature in degrees Celsius.", nil},
		{"meshbox_humidity_ratio", "Relative humidity as a ratio (0-1).", nil},
		{"meshbox_pressure_pascals", "Sensor pressure in pascals.", nil},
		{"meshbox_illuminance_lux", "Sensor illuminance in lux.", nil},
		{"meshbox_voltage_volts", "Sensor voltage in volts.", nil},
		{"meshbox_current_amperes", "Sensor current in amperes.", nil},
		{"meshbox_power_watts", "Sensor power in watts.", nil},
	}
}

// baseUnit maps a configured unit to its family and a conversion to the
// base unit; ok is false for units with no base-unit family (they go to
// meshbox_sensor_value with a unit label).
func baseUnit(unit string) (family string, conv func(float64) float64, ok bool) {
	switch unit {
	case "°C", "C", "degC", "celsius":
		return "meshbox_temperature_celsius", times(1), true
	case "°F", "F", "degF":
		return "meshbox_temperature_celsius", func(v float64) float64 { return (v - 32) * 5 / 9 }, true
	case "%RH", "%rh", "RH%":
		return "meshbox_humidity_ratio", times(0.01), true
	case "Pa":
		return "meshbox_pressure_pascals", times(1), true
	case "hPa", "mbar":
		return "meshbox_pressure_pascals", times(100), true
	case "kPa":
		return "meshbox_pressure_pascals", times(1000), true
	case "lx", "lux":
		return "meshbox_illuminance_lux", times(1), true
	case "V":
		return "meshbox_voltage_volts", times(1), true
	case "mV":
		return "meshbox_voltage_volts", times(0.001), true
	case "A":
		return "meshbox_current_amperes", times(1), true
	case "mA":
		return "meshbox_current_amperes", times(0.001), true
	case "W":
		return "meshbox_power_watts", times(1), true
	case "mW":
		return "meshbox_power_watts", times(0.001), true
	}
	return "", nil, false
}

// convert returns v in the base unit, rounded to the field's resolution
// converted the same way (so 1013.2 hPa is 101320 Pa, not
// 101320.00000000001).
func convert(conv func(float64) float64, v, resolution float64) float64 {
	out := conv(v)
	if resolution > 0 {
		step := conv(resolution) - conv(0)
		if step < 0 {
			step = -step
		}
		out = sensor.Round(out, step)
	}
	return out
}

// BaseUnit converts v in unit to its Prometheus base unit and names the
// sensor family it belongs to (meshbox_temperature_celsius for °C and °F);
// ok is false for a unit without one.
func BaseUnit(unit string, v float64) (family string, base float64, ok bool) {
	family, conv, ok := baseUnit(unit)
	if !ok {
		return "", v, false
	}
	return family, conv(v), true
}

// Package metrics builds the box's Prometheus exposition (GET /metrics) on
// github.com/VictoriaMetrics/metrics: a Registry of metric families, each
// collected at scrape time, and a Tracker that turns the bridge's events
// into sensor, output and input gauges.
//
// A Family is registered once (name, help, type) with a Collect function
// that emits its samples at every scrape; emitting nothing leaves the
// family out. Other parts of the box register theirs the same way (history
// store size, thermostat targets, automation state: see docs/metrics.md for
// the reserved names).
//
// Sensor values follow Prometheus naming in base units: a field with a
// known unit becomes meshbox_<quantity>_<unit>{sensor,field} (°C ->
// meshbox_temperature_celsius, %RH -> meshbox_humidity_ratio, hPa ->
// meshbox_pressure_pascals, ...); any other field is
// meshbox_sensor_value{sensor,field,unit}. A sensor whose last read failed,
// or that has not reported for three intervals (at least 30 s), reports no
// value at all (never a frozen one): meshbox_sensor_up is 0 and
// meshbox_sensor_read_errors_total says whether it is failing.
package metrics

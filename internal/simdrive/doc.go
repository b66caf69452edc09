// Package simdrive lets a user drive the simulated board to try
// automations before wiring: {"msg_type":"sim","target":F,"value":N} forces
// sensor field F to N (null returns it to drifting),
// {"msg_type":"sim","target":IN,"value":true|false|null} sets input IN's
// level (null releases it), and {"msg_type":"sim","target":SENSOR,
// "fault":true|false} makes a sensor's reads fail.
//
// Forced fields are applied under the real drivers: a wrapped
// SensorReader (Driver.OpenSensor) replaces the driver field the metric
// comes from (undoing the field's scale and offset), so the bridge's
// sensor path — filters, metrics, sensor_error — runs as on hardware.
// Input levels go to the simulated GPIO line, so debounce and edges are
// real too. On real hardware there is no Driver and every frame is
// refused with ErrNotSimulated.
package simdrive

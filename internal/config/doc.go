// Package config loads, defaults and validates meshbox's YAML configuration
// (default /etc/meshbox/meshbox.yaml).
//
// Load/Parse decode strictly (unknown keys are errors) with goccy/go-yaml,
// fill the documented defaults, resolve every pin against the board's 40-pin
// header (package board) and check the wiring: ids, pins used twice, pins
// reserved by an enabled bus (I²C1, 1-Wire, UART, a PWM channel), sensor
// drivers and addresses (from internal/sensor's table), enums, durations,
// interlocks and URLs. Every problem is an *Error printed as
// "FILE:LINE: FIELD: reason", e.g.
//
//	meshbox.yaml:14: outputs[1].pin: BCM 3 is used by i2c (sensor "climate")
//
// Demo returns the built-in configuration for the simulated board
// (examples/demo.yaml is the same thing as a file). Load never reads the
// environment; the caller applies MESH_* overrides.
package config

// Package config loads, validates and defaults meshbox's YAML configuration.
// Errors name the file, line and field ("meshbox.yaml:12: outputs[1].pin:
// BCM 2 is reserved by i2c1"). Load never reads the environment; the caller
// applies MESH_* overrides.
package config

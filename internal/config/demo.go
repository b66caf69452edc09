package config

import (
	"fmt"
	"time"
)

// DemoName is the Path-like name used in messages about the demo config.
const DemoName = "demo"

// Demo returns the built-in demo configuration for the simulated board:
// switch outputs lamp (BCM17), fan (BCM27) and pump (BCM22, auto-off after
// 10m), an interlocked pair valve_open/valve_close (BCM5/BCM6, 500ms dead
// time), a momentary door opener (BCM23, 500ms pulse), a pwm dimmer (BCM18),
// sensors climate (bme280 bus 1 0x76), light (bh1750 0x23) and cpu
// (cputemp), every 2s, and a button input (BCM24, pull up). It is defaulted
// and validated like a loaded file; examples/demo.yaml is the same config as
// YAML. Each call returns a fresh value.
func Demo() *Config {
	cfg := demoRaw()
	if err := finish(cfg, DemoName, newPositions(), ""); err != nil {
		// The demo is constant data covered by tests; failing here is a bug.
		panic(fmt.Sprintf("config: built-in demo is invalid: %v", err))
	}
	return cfg
}

// demoRaw is the demo as written, before defaults.
func demoRaw() *Config {
	return &Config{
		Name:    "meshbox",
		Channel: DefaultChannel,
		Outputs: []Output{
			{ID: "lamp", Label: "Lamp", Pin: BCMPin(17), Icon: "lightbulb"},
			{ID: "fan", Label: "Fan", Pin: BCMPin(27), Icon: "fan"},
			{ID: "pump", Label: "Pump", Pin: BCMPin(22), MaxOn: 10 * time.Minute, Icon: "drop"},
			{ID: "valve_open", Label: "Valve open", Pin: BCMPin(5)},
			{ID: "valve_close", Label: "Valve close", Pin: BCMPin(6)},
			{ID: "door", Label: "Door", Pin: BCMPin(23), Kind: KindMomentary, Pulse: 500 * time.Millisecond, Icon: "door"},
			{ID: "dimmer", Label: "Dimmer", Pin: BCMPin(18), Kind: KindPWM, Frequency: 1000},
		},
		Inputs: []Input{
			{ID: "button", Label: "Button", Pin: BCMPin(24), Pull: "up", ActiveLow: true},
		},
		Sensors: []Sensor{
			{ID: "climate", Label: "Climate", Driver: DriverBME280, Bus: "1", Address: 0x76, Interval: 2 * time.Second},
			{ID: "light", Label: "Light", Driver: DriverBH1750, Bus: "1", Address: 0x23, Interval: 2 * time.Second},
			{ID: "cpu", Label: "CPU", Driver: DriverCPUTemp, Interval: 2 * time.Second},
		},
		Interlocks: []Interlock{
			{ID: "valve", Outputs: []string{"valve_open", "valve_close"}, DeadTime: 500 * time.Millisecond},
		},
	}
}

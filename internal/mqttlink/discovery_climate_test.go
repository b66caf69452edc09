package mqttlink

import (
	"encoding/json"
	"testing"
)

// TestClimateDiscovery: a thermostat is a Home Assistant climate entity on
// the box's topics; commands to it are numbers.
func TestClimateDiscovery(t *testing.T) {
	o := Options{Base: "meshbox/gh", DiscoveryPrefix: "homeassistant", NodeID: "gh", DeviceName: "gh"}
	es := o.discovery([]Control{{ID: "heating", Label: "Heating", Kind: KindThermostat, Min: 5, Max: 30, Sensor: "air_temp", Mode: "heat"}})
	if len(es) != 1 || es[0].Topic != "homeassistant/climate/gh/heating/config" {
		t.Fatalf("entries = %v", es)
	}
	var cfg map[string]any
	if err := json.Unmarshal(es[0].Payload, &cfg); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"temperature_command_topic": "meshbox/gh/heating/set", "temperature_state_topic": "meshbox/gh/heating/state",
		"current_temperature_topic": "meshbox/gh/air_temp/state", "action_topic": "meshbox/gh/heating_status/state",
		"min_temp": 5.0, "max_temp": 30.0, "temp_step": 0.5, "unique_id": "meshbox_gh_heating",
	} {
		if cfg[k] != want {
			t.Errorf("%s = %v, want %v", k, cfg[k], want)
		}
	}
	if m, _ := cfg["modes"].([]any); len(m) != 1 || m[0] != "heat" {
		t.Errorf("modes = %v", cfg["modes"])
	}
	if v, err := parseCommand(KindThermostat, []byte(" 21.5 ")); err != nil || v != 21.5 {
		t.Errorf("parseCommand = %v, %v", v, err)
	}
	if _, err := parseCommand(KindThermostat, []byte("warm")); err == nil {
		t.Error("parseCommand accepted warm")
	}
}

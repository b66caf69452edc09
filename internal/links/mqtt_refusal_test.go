package links

import (
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/mqttlink/mqtttest"
)

// TestMQTTRefusalFromTheRealBridge: MQTT commands take the phone's path
// through the real bridge: one the bridge refuses (its actuation rate
// limit) is answered on the control's error topic with the bridge's
// reason, the pin stays where it was and the state topic keeps the truth;
// an output's max_on switches an MQTT ON off again.
func TestMQTTRefusalFromTheRealBridge(t *testing.T) {
	broker := mqtttest.Start(t, "", "")
	cfg := fastDemo("boxr")
	cfg.StateDir = t.TempDir()
	cfg.MQTT = &config.MQTT{URL: broker.URL().String(), QoS: 1}
	cfg.ActuationRate = 0.001 // one change, then a refusal for about 17 minutes
	for i := range cfg.Outputs {
		if cfg.Outputs[i].ID == "pump" {
			cfg.Outputs[i].MaxOn = 300 * time.Millisecond
		}
	}
	bx := startBox(t, cfg)
	w := mqtttest.Watch(t, broker, "", "", "meshbox/#")
	_, stop, err := StartMQTT(bx.b, testLogger(t), fastMQTT)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	w.WaitFor("meshbox/boxr/availability", "online", 10*time.Second)
	w.WaitFor("meshbox/boxr/lamp/state", "OFF", 5*time.Second)

	w.Publish("meshbox/boxr/lamp/set", "ON")
	w.WaitFor("meshbox/boxr/lamp/state", "ON", 5*time.Second)
	w.Publish("meshbox/boxr/lamp/set", "OFF")
	w.WaitFor("meshbox/boxr/lamp/error", "rate limited", 5*time.Second)
	if last, _ := w.Last("meshbox/boxr/lamp/state"); last != "ON" {
		t.Errorf("lamp state %q after the refused OFF, want ON", last)
	}
	if !level(t, bx, lampLine) {
		t.Error("the refused OFF moved the lamp pin")
	}

	// WaitFor counts earlier messages: follow the last pump state instead.
	lastIs := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if last, _ := w.Last("meshbox/boxr/pump/state"); last == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("pump state never %s:\n%s", want, w.Dump())
			}
		}
	}
	w.Publish("meshbox/boxr/pump/set", "ON")
	lastIs("ON")
	lastIs("OFF") // max_on switched it off, not a command
	if level(t, bx, gpio.Line{Offset: 22}) {
		t.Error("the pump pin is still on after its max_on")
	}
}

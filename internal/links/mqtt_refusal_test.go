package links

import (
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/mqttlink/mqtttest"
)

// TestMQTTRefusalFromTheRealBridge: a command the real bridge refuses (its
// actuation rate limit) is answered on the control's error topic with the
// bridge's reason, the pin stays where it was, and the state topic keeps
// the truth.
func TestMQTTRefusalFromTheRealBridge(t *testing.T) {
	broker := mqtttest.Start(t, "", "")
	cfg := fastDemo("boxr")
	cfg.StateDir = t.TempDir()
	cfg.MQTT = &config.MQTT{URL: broker.URL().String(), QoS: 1}
	cfg.ActuationRate = 0.001 // one change, then a refusal for about 17 minutes
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
	w.WaitFor("meshbox/boxr/lamp/state", "ON", 5*time.Second)
	if !level(t, bx, lampLine) {
		t.Error("the refused OFF moved the lamp pin")
	}
}

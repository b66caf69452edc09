package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/mqttlink/mqtttest"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// meshbox with mqtt: on a real mosquitto (authenticated listener): a phone
// and an MQTT subscriber see the same state, an MQTT command switches the
// simulated output and the phone gets the state echo, and a broker restart
// in the middle loses nothing.
func TestMQTTEndToEnd(t *testing.T) {
	const token = "mqtt-e2e-token"
	broker := mqtttest.Start(t, "boxm", "mqtt-s3cret")
	board := simhost.New(simhost.Options{Seed: 5})
	state := t.TempDir()
	cfg := lkConfig(t, "boxm", fmt.Sprintf("mqtt:\n  url: mqtt://%s\n  username: boxm\n  password: mqtt-s3cret\n  qos: 1\n", broker.Addr()))
	w := mqtttest.Watch(t, broker, "boxm", "mqtt-s3cret", "meshbox/#", "homeassistant/#")
	bx := lkServe(t, "127.0.0.1:0", cfg, token, state, board)
	ph := phonetest.Dial(t, bx.url("/"), phonetest.App("iPhone", token))

	w.WaitFor("meshbox/boxm/availability", "online", 15*time.Second)
	w.WaitFor("homeassistant/switch/boxm/lamp/config", "*", 5*time.Second)
	d := w.WaitFor("homeassistant/sensor/boxm/climate_humidity/config", "*", 5*time.Second)
	var disco map[string]any
	if err := json.Unmarshal(d.Payload, &disco); err != nil || disco["device_class"] != "humidity" || disco["state_topic"] != "meshbox/boxm/climate_humidity/state" {
		t.Errorf("humidity discovery = %s", d.Payload)
	}
	if _, err := os.Stat(filepath.Join(state, "mqtt-discovery.json")); err != nil {
		t.Errorf("discovery bookkeeping not in the state dir: %v", err)
	}

	// The same truth on both sides: the phone's snapshot and the retained states.
	ph.BroadcastJSON(`{"msg_type":"control_sync_request","from":"iPhone"}`)
	snap := ph.ExpectBroadcastFunc("snapshot", 5*time.Second, lkSnapshotWith("lamp", false))["controls"].(map[string]any)
	for _, id := range []string{"lamp", "fan", "valve_open", "button"} {
		want := map[bool]string{true: "ON", false: "OFF"}[snap[id] == true]
		w.WaitFor("meshbox/boxm/"+id+"/state", want, 5*time.Second)
	}
	m := ph.ExpectBroadcast(phonetest.Msg("metrics", "source", "light"), 5*time.Second)
	lux, _ := m["light_lux"].(float64)
	w.WaitFor("meshbox/boxm/light_lux/state", strconv.FormatFloat(lux, 'f', -1, 64), 5*time.Second)

	// MQTT command -> simulated output -> state echo on the phone.
	start := time.Now()
	w.Publish("meshbox/boxm/lamp/set", "ON")
	ph.ExpectBroadcast(phonetest.Msg("state", "target", "lamp", "value", true), 5*time.Second)
	t.Logf("MQTT lamp ON -> phone state echo: %v", time.Since(start).Round(time.Microsecond))
	w.WaitFor("meshbox/boxm/lamp/state", "ON", 5*time.Second)
	if on, _ := board.OutputLevel(gpio.Line{Offset: 17}); !on {
		t.Error("lamp pin low after the MQTT command")
	}
	w.Publish("meshbox/boxm/dimmer/set", "30")
	ph.ExpectBroadcast(phonetest.Msg("state", "target", "dimmer", "value", 30.0), 5*time.Second)

	// Broker restart mid-test: the box keeps serving phones, then
	// republishes the newest state and takes commands again.
	broker.Stop()
	ph.Cmd("fan", true)
	ph.ExpectBroadcast(phonetest.Msg("state", "target", "fan", "value", true), 5*time.Second)
	ph.Cmd("lamp", false)
	ph.ExpectBroadcast(phonetest.Msg("state", "target", "lamp", "value", false), 5*time.Second)
	broker.Start()
	restarted := time.Now()
	w2 := mqtttest.Watch(t, broker, "boxm", "mqtt-s3cret", "meshbox/#")
	w2.WaitFor("meshbox/boxm/availability", "online", 20*time.Second)
	w2.WaitFor("meshbox/boxm/fan/state", "ON", 5*time.Second)
	w2.WaitFor("meshbox/boxm/lamp/state", "OFF", 5*time.Second)
	t.Logf("states republished %v after the broker restart", time.Since(restarted).Round(time.Millisecond))
	w2.Publish("meshbox/boxm/fan/set", "OFF")
	ph.ExpectBroadcast(phonetest.Msg("state", "target", "fan", "value", false), 5*time.Second)
	if on, _ := board.OutputLevel(gpio.Line{Offset: 27}); on {
		t.Error("fan pin high after MQTT OFF")
	}

	// A clean stop says offline.
	bx.stop()
	w2.WaitFor("meshbox/boxm/availability", "offline", 5*time.Second)
}

package links

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/mqttlink"
	"github.com/meshbox/meshbox/internal/mqttlink/mqtttest"
)

func fastMQTT(o *mqttlink.Options) {
	o.MinBackoff, o.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
}

// The real bridge on MQTT: the phone and a subscriber see the same state,
// MQTT commands go through the phone's path (state echo, interlock), and
// a broker restart loses nothing.
func TestMQTTWithBridge(t *testing.T) {
	broker := mqtttest.Start(t, "", "")
	cfg := fastDemo("boxm")
	cfg.StateDir = t.TempDir()
	cfg.MQTT = &config.MQTT{URL: broker.URL().String(), QoS: 1}
	bx := startBox(t, cfg)
	ph := dialPhone(t, bx.relay.url(), "iPhone")
	w := mqtttest.Watch(t, broker, "", "", "meshbox/#", "homeassistant/#")
	// A stale retained command left on the broker never switches anything.
	w.PublishRetained("meshbox/boxm/fan/set", "ON")
	link, stop, err := StartMQTT(bx.b, testLogger(t), fastMQTT)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	w.WaitFor("meshbox/boxm/availability", "online", 10*time.Second)
	w.WaitFor("meshbox/boxm/lamp/state", "OFF", 5*time.Second)
	w.WaitFor("meshbox/boxm/climate_temperature/state", "*", 5*time.Second)
	d := w.WaitFor("homeassistant/sensor/boxm/climate_temperature/config", "*", 5*time.Second)
	var disco map[string]any
	if err := json.Unmarshal(d.Payload, &disco); err != nil || disco["device_class"] != "temperature" || disco["unit_of_measurement"] != "°C" {
		t.Errorf("temperature discovery = %s (%v)", d.Payload, err)
	}
	w.WaitFor("homeassistant/switch/boxm/lamp/config", "*", 5*time.Second)
	w.WaitFor("homeassistant/button/boxm/door/config", "*", 5*time.Second)
	w.WaitFor("homeassistant/number/boxm/dimmer/config", "*", 5*time.Second)
	w.WaitFor("homeassistant/binary_sensor/boxm/button/config", "*", 5*time.Second)
	// The bookkeeping file is written after the entries are queued (a crash
	// in between still remembers the removed ones): wait for it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(cfg.StateDir, "mqtt-discovery.json"))
		if err == nil && len(b) >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("discovery state file: %v %q", err, b)
			break
		}
	}

	// The same sensor value on both sides.
	m := ph.wait("metrics", 5*time.Second, and(isMsg("metrics", "source", "climate"), has("climate_temperature")))
	want := string(mustFormat(m["climate_temperature"]))
	w.WaitFor("meshbox/boxm/climate_temperature/state", want, 5*time.Second)

	// MQTT -> hardware -> phone.
	start := time.Now()
	w.Publish("meshbox/boxm/lamp/set", "ON")
	ph.wait("lamp state echo", 5*time.Second, isMsg("state", "target", "lamp", "value", true))
	t.Logf("MQTT command -> phone state echo: %v", time.Since(start).Round(time.Microsecond))
	w.WaitFor("meshbox/boxm/lamp/state", "ON", 5*time.Second)
	if !level(t, bx, lampLine) {
		t.Error("lamp pin low after MQTT ON")
	}
	if level(t, bx, fanLine) { // the retained ON would have come before the live one
		t.Error("fan pin high: a retained command switched it")
	}
	// Phone -> MQTT.
	ph.broadcast(`{"msg_type":"cmd","target":"fan","value":true}`)
	w.WaitFor("meshbox/boxm/fan/state", "ON", 5*time.Second)
	// The interlock applies to MQTT commands too (break-before-make).
	w.Publish("meshbox/boxm/valve_open/set", "ON")
	ph.wait("valve_open on", 5*time.Second, isMsg("state", "target", "valve_open", "value", true))
	w.Publish("meshbox/boxm/valve_close/set", "ON")
	ph.wait("valve_open off", 5*time.Second, isMsg("state", "target", "valve_open", "value", false))
	ph.wait("valve_close on", 5*time.Second, isMsg("state", "target", "valve_close", "value", true))
	w.WaitFor("meshbox/boxm/valve_open/state", "OFF", 5*time.Second)
	if lo, _ := bx.board.OutputLevel(gpio.Line{Offset: 5}); lo {
		t.Error("valve_open pin still high under the interlock")
	}
	// Refused: a read-only input and an unknown control; each says why on
	// its error topic.
	w.Publish("meshbox/boxm/button/set", "ON")
	w.Publish("meshbox/boxm/nosuch/set", "ON")
	w.WaitFor("meshbox/boxm/button/error", "input controls take no commands", 5*time.Second)
	w.WaitFor("meshbox/boxm/nosuch/error", "unknown control", 5*time.Second)

	// Broker restart: the phone keeps working while it is down, and the
	// newest state is published when it is back.
	broker.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for link.Connected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	start = time.Now()
	ph.broadcast(`{"msg_type":"cmd","target":"lamp","value":false}`)
	ph.wait("lamp off while the broker is down", 5*time.Second, isMsg("state", "target", "lamp", "value", false))
	t.Logf("phone cmd -> echo with the broker down: %v", time.Since(start).Round(time.Microsecond))
	broker.Start()
	restarted := time.Now()
	w2 := mqtttest.Watch(t, broker, "", "", "meshbox/#")
	w2.WaitFor("meshbox/boxm/availability", "online", 15*time.Second)
	w2.WaitFor("meshbox/boxm/lamp/state", "OFF", 5*time.Second)
	w2.WaitFor("meshbox/boxm/fan/state", "ON", 5*time.Second)
	t.Logf("state republished %v after the broker came back", time.Since(restarted).Round(time.Millisecond))
	w2.Publish("meshbox/boxm/lamp/set", "ON")
	ph.wait("lamp on after the restart", 5*time.Second, isMsg("state", "target", "lamp", "value", true))
	st := link.Stats()
	if st.Connects < 2 || st.Commands < 4 || st.BadCommands < 2 {
		t.Errorf("stats = %+v, want a reconnect, 4 commands and 2 refused", st)
	}
}

func mustFormat(v any) []byte {
	f, _ := v.(float64)
	b, _ := json.Marshal(f)
	return b
}

func TestControlsForMQTT(t *testing.T) {
	cfg := config.Demo()
	cs := Controls(cfg)
	byID := map[string]mqttlink.Control{}
	for _, c := range cs {
		byID[c.ID] = c
	}
	checks := []struct{ id, kind, class string }{
		{"lamp", mqttlink.KindSwitch, ""},
		{"door", mqttlink.KindMomentary, ""},
		{"dimmer", mqttlink.KindPWM, ""},
		{"button", mqttlink.KindInput, ""},
		{"climate_temperature", mqttlink.KindSensor, "temperature"},
		{"climate_pressure", mqttlink.KindSensor, "pressure"},
	}
	for _, c := range checks {
		got, ok := byID[c.id]
		if !ok || got.Kind != c.kind || got.DeviceClass != c.class {
			t.Errorf("%s = %+v, want kind %s class %q", c.id, got, c.kind, c.class)
		}
	}
}

func TestControlsForMQTTAutomations(t *testing.T) {
	cfg, err := config.LoadFor("../../examples/greenhouse.yaml", "pi4")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]mqttlink.Control{}
	for _, c := range Controls(cfg) {
		byID[c.ID] = c
	}
	if h := byID["heating"]; h.Kind != mqttlink.KindThermostat || h.Sensor != "air_temp" || h.Mode != "heat" || h.Min != 5 || h.Max != 30 {
		t.Errorf("heating = %+v", h)
	}
	if a := byID["vent_humid"]; a.Kind != mqttlink.KindSwitch {
		t.Errorf("vent_humid = %+v", a)
	}
	if s := byID["heating_status"]; s.Kind != mqttlink.KindSensor || !s.Text {
		t.Errorf("heating_status = %+v", s)
	}
}

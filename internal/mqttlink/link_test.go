package mqttlink

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/mqttlink/mqtttest"
)

func testControls() []Control {
	return []Control{
		{ID: "lamp", Label: "Lamp", Kind: KindSwitch},
		{ID: "door", Kind: KindMomentary},
		{ID: "dimmer", Kind: KindPWM},
		{ID: "button", Kind: KindInput},
		{ID: "climate_temperature", Label: "Temperature", Kind: KindSensor, Unit: "°C", DeviceClass: "temperature"},
	}
}

func testValues() map[string]any {
	return map[string]any{"lamp": false, "door": false, "dimmer": 0.0, "button": false, "climate_temperature": 21.5}
}

type running struct {
	link *Link
	stop func()
}

func runLink(t *testing.T, o Options, hub Hub, controls []Control) *running {
	t.Helper()
	return startLink(t, New(o, hub, controls, slog.New(slog.NewTextHandler(t.Output(), nil))))
}

// startLink runs l until the test ends (or stop is called).
func startLink(t *testing.T, l *Link) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := l.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	r := &running{link: l, stop: sync.OnceFunc(func() { cancel(); wg.Wait() })}
	t.Cleanup(r.stop)
	return r
}

func testOptions(b *mqtttest.Broker) Options {
	return Options{
		URL: b.URL(), ClientID: "meshbox-test", Base: "meshbox/box1", QoS: 1, Retain: true,
		Discovery: true, DiscoveryPrefix: "homeassistant", NodeID: "box1", DeviceName: "box1",
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
}

func TestPublishStatesDiscoveryAndCommands(t *testing.T) {
	b := mqtttest.Start(t, "", "")
	w := mqtttest.Watch(t, b, "", "", "meshbox/#", "homeassistant/#")
	hub := newFakeHub(testValues())
	r := runLink(t, testOptions(b), hub, testControls())

	w.WaitFor("meshbox/box1/availability", "online", 10*time.Second)
	w.WaitFor("meshbox/box1/climate_temperature/state", "21.5", 5*time.Second)
	w.WaitFor("meshbox/box1/lamp/state", "OFF", 5*time.Second)

	m := w.WaitFor("homeassistant/switch/box1/lamp/config", "*", 5*time.Second)
	var cfg map[string]any
	if err := json.Unmarshal(m.Payload, &cfg); err != nil {
		t.Fatalf("discovery payload: %v", err)
	}
	if cfg["command_topic"] != "meshbox/box1/lamp/set" || cfg["state_topic"] != "meshbox/box1/lamp/state" {
		t.Errorf("switch discovery = %v", cfg)
	}
	dev, _ := cfg["device"].(map[string]any)
	if ids, _ := dev["identifiers"].([]any); len(ids) != 1 || ids[0] != "meshbox_box1" {
		t.Errorf("device = %v, want one device per box", dev)
	}
	s := w.WaitFor("homeassistant/sensor/box1/climate_temperature/config", "*", 5*time.Second)
	json.Unmarshal(s.Payload, &cfg)
	if cfg["device_class"] != "temperature" || cfg["unit_of_measurement"] != "°C" {
		t.Errorf("sensor discovery = %v", cfg)
	}
	w.WaitFor("homeassistant/button/box1/door/config", "*", 5*time.Second)
	w.WaitFor("homeassistant/number/box1/dimmer/config", "*", 5*time.Second)
	w.WaitFor("homeassistant/binary_sensor/box1/button/config", "*", 5*time.Second)

	// A command drives Apply and the state echo comes back on the state topic.
	w.Publish("meshbox/box1/lamp/set", "ON")
	w.WaitFor("meshbox/box1/lamp/state", "ON", 5*time.Second)
	w.Publish("meshbox/box1/dimmer/set", "42.5")
	w.WaitFor("meshbox/box1/dimmer/state", "42.5", 5*time.Second)
	w.Publish("meshbox/box1/lamp/set", "maybe") // refused: not ON/OFF
	w.Publish("meshbox/box1/nosuch/set", "ON")  // refused: unknown control
	w.Publish("meshbox/box1/button/set", "ON")  // refused: inputs take no commands
	w.Publish("meshbox/box1/door/set", "PRESS")
	w.WaitFor("meshbox/box1/door/state", "ON", 5*time.Second)

	got := hub.appliedList()
	want := []string{"lamp=true from mqtt", "dimmer=42.5 from mqtt", "door=true from mqtt"}
	if len(got) != len(want) {
		t.Fatalf("applied = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("applied[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.link.Stats().BadCommands != 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := r.link.Stats(); st.BadCommands != 3 || st.Commands != 3 {
		t.Errorf("stats = %+v, want 3 good and 3 bad commands", st)
	}

	// A clean stop leaves "offline" on the availability topic.
	r.stop()
	w.WaitFor("meshbox/box1/availability", "offline", 5*time.Second)
}

func TestBrokerRestartRepublishesNewestState(t *testing.T) {
	b := mqtttest.Start(t, "", "")
	hub := newFakeHub(testValues())
	r := runLink(t, testOptions(b), hub, testControls())
	w := mqtttest.Watch(t, b, "", "", "meshbox/#")
	w.WaitFor("meshbox/box1/availability", "online", 10*time.Second)
	w.WaitFor("meshbox/box1/climate_temperature/state", "21.5", 5*time.Second)

	b.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for r.link.Connected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r.link.Connected() {
		t.Fatal("link still reports connected after the broker died")
	}
	// Changes while the broker is down: never block, keep the newest.
	done := make(chan struct{})
	go func() {
		for i := 0; i < 100; i++ {
			hub.set("climate_temperature", 22.0+float64(i)/10)
		}
		hub.set("lamp", true)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("hub changes blocked while the broker was down")
	}

	b.Start() // same port, no persistence: every retained message is gone
	w2 := mqtttest.Watch(t, b, "", "", "meshbox/#")
	w2.WaitFor("meshbox/box1/availability", "online", 15*time.Second)
	w2.WaitFor("meshbox/box1/climate_temperature/state", "31.9", 5*time.Second)
	w2.WaitFor("meshbox/box1/lamp/state", "ON", 5*time.Second)
	if st := r.link.Stats(); st.Connects < 2 {
		t.Errorf("connects = %d, want a reconnect", st.Connects)
	}
}

func TestAuthenticatedBroker(t *testing.T) {
	b := mqtttest.Start(t, "box", "s3cret")
	hub := newFakeHub(testValues())

	bad := testOptions(b)
	bad.Username, bad.Password, bad.ClientID = "box", "wrong", "meshbox-bad"
	rb := runLink(t, bad, hub, testControls())

	good := testOptions(b)
	good.Username, good.Password = "box", "s3cret"
	rg := runLink(t, good, hub, testControls())

	w := mqtttest.Watch(t, b, "box", "s3cret", "meshbox/#")
	w.WaitFor("meshbox/box1/availability", "online", 10*time.Second)
	if !rg.link.Connected() {
		t.Error("link with the right password is not connected")
	}
	if rb.link.Connected() {
		t.Error("link with a wrong password reports connected")
	}
}

func TestRemovedItemsLoseTheirDiscoveryEntry(t *testing.T) {
	b := mqtttest.Start(t, "", "")
	state := filepath.Join(t.TempDir(), "mqtt-discovery.json")
	o := testOptions(b)
	o.StateFile = state
	hub := newFakeHub(testValues())
	w := mqtttest.Watch(t, b, "", "", "homeassistant/#")

	r := runLink(t, o, hub, testControls())
	w.WaitFor("homeassistant/switch/box1/lamp/config", "*", 10*time.Second)
	w.WaitFor("homeassistant/number/box1/dimmer/config", "*", 5*time.Second)
	r.stop()

	// The next configuration no longer has the dimmer.
	var fewer []Control
	for _, c := range testControls() {
		if c.ID != "dimmer" {
			fewer = append(fewer, c)
		}
	}
	runLink(t, o, hub, fewer)
	w.WaitFor("homeassistant/number/box1/dimmer/config", "", 10*time.Second)
	if p, _ := w.Last("homeassistant/switch/box1/lamp/config"); p == "" {
		t.Error("lamp discovery entry was cleared, want it kept")
	}
}

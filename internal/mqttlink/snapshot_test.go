package mqttlink

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/meshbox/meshbox/internal/config"
)

// A value not read yet (nil) is not published, and a snapshot value never
// overwrites a newer change.
func TestChangedSkipsNilAndStaleSnapshot(t *testing.T) {
	o := Options{Base: "meshbox/b", Retain: true}
	l := New(o, newFakeHub(map[string]any{}), testControls(), slog.New(slog.NewTextHandler(t.Output(), nil)))
	l.changed("climate_temperature", nil, false)
	if _, ok := l.latest["meshbox/b/climate_temperature/state"]; ok {
		t.Error("nil value queued")
	}
	l.changed("lamp", true, false)  // a change seen by the subscription
	l.changed("lamp", false, true)  // an older snapshot value
	l.changed("dimmer", 12.0, true) // nothing newer: taken
	l.changed("nosuch", 1.0, false) // not a control
	if got := string(l.latest["meshbox/b/lamp/state"].payload); got != "ON" {
		t.Errorf("lamp = %q, want the newer ON", got)
	}
	if got := string(l.latest["meshbox/b/dimmer/state"].payload); got != "12" {
		t.Errorf("dimmer = %q", got)
	}
	if len(l.latest) != 2 {
		t.Errorf("queued %v", l.latest)
	}
}

func TestTextSensorDiscoveryHasNoStateClass(t *testing.T) {
	o := Options{Base: "meshbox/b", DiscoveryPrefix: "homeassistant", NodeID: "b", DeviceName: "b"}
	es := o.discovery([]Control{{ID: "gps", Kind: KindSensor, Text: true, Unit: "x"}})
	if len(es) != 1 {
		t.Fatalf("entries = %v", es)
	}
	var cfg map[string]any
	json.Unmarshal(es[0].Payload, &cfg)
	if _, ok := cfg["state_class"]; ok || cfg["unit_of_measurement"] != nil || cfg["state_topic"] != "meshbox/b/gps/state" {
		t.Errorf("text sensor discovery = %v", cfg)
	}
}

func TestFromConfigWebSocketSchemes(t *testing.T) {
	o, err := FromConfig(&config.MQTT{URL: "ws://broker.lan/mqtt"}, "box", "")
	if err != nil || o.TLS != nil || o.URL.Host != "broker.lan:80" {
		t.Errorf("ws: %+v %v", o.URL, err)
	}
	o, err = FromConfig(&config.MQTT{URL: "wss://broker.lan/mqtt"}, "box", "")
	if err != nil || o.TLS == nil || o.URL.Host != "broker.lan:443" {
		t.Errorf("wss: %+v %v", o.URL, err)
	}
	if _, err := FromConfig(&config.MQTT{URL: "http://broker.lan"}, "box", ""); err == nil {
		t.Error("http:// accepted")
	}
}

// A sensor's numbers are published at its resolution, as the mesh has them.
func TestChangedRoundsToResolution(t *testing.T) {
	o := Options{Base: "meshbox/b", Retain: true}
	cs := []Control{{ID: "t", Kind: KindSensor, Resolution: 0.01}, {ID: "raw", Kind: KindSensor}}
	l := New(o, newFakeHub(map[string]any{}), cs, slog.New(slog.NewTextHandler(t.Output(), nil)))
	l.changed("t", 21.456789, false)
	l.changed("raw", 21.456789, false)
	if got := string(l.latest["meshbox/b/t/state"].payload); got != "21.46" {
		t.Errorf("t = %q, want 21.46", got)
	}
	if got := string(l.latest["meshbox/b/raw/state"].payload); got != "21.456789" {
		t.Errorf("raw = %q, want it as given", got)
	}
}

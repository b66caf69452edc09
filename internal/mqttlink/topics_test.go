package mqttlink

import (
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		kind, in string
		want     any
		err      bool
	}{
		{KindSwitch, "ON", true, false},
		{KindSwitch, " off\n", false, false},
		{KindSwitch, "true", true, false},
		{KindSwitch, "0", false, false},
		{KindSwitch, "maybe", nil, true},
		{KindMomentary, "PRESS", true, false},
		{KindMomentary, "OFF", nil, true},
		{KindPWM, "42.5", 42.5, false},
		{KindPWM, "lots", nil, true},
		{KindInput, "ON", nil, true},
		{KindSensor, "1", nil, true},
	}
	for _, tt := range tests {
		got, err := parseCommand(tt.kind, []byte(tt.in))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseCommand(%s, %q) = %v, %v; want %v, err %v", tt.kind, tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{true, "ON"}, {false, "OFF"}, {21.5, "21.5"}, {float64(3), "3"}, {7, "7"},
		{"text", "text"}, {nil, ""}, {map[string]int{"a": 1}, `{"a":1}`},
	}
	for _, tt := range tests {
		if got := string(formatValue(tt.in)); got != tt.want {
			t.Errorf("formatValue(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCommandTarget(t *testing.T) {
	o := Options{Base: "meshbox/box1"}
	tests := map[string]string{
		"meshbox/box1/lamp/set":     "lamp",
		"meshbox/box1/lamp/state":   "",
		"meshbox/box1//set":         "",
		"meshbox/box1/a/b/set":      "",
		"meshbox/box2/lamp/set":     "",
		"meshbox/box1lamp/set":      "",
		"meshbox/box1/availability": "",
	}
	for in, want := range tests {
		if got := o.commandTarget(in); got != want {
			t.Errorf("commandTarget(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackoffDoublesWithJitterAndCap(t *testing.T) {
	l := &Link{opts: Options{MinBackoff: time.Second, MaxBackoff: 30 * time.Second}}
	if d := l.backoff(0); d != 0 {
		t.Errorf("backoff(0) = %v, want immediate first attempt", d)
	}
	for attempt, base := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 4: 16 * time.Second, 5: 30 * time.Second, 50: 30 * time.Second} {
		for i := 0; i < 50; i++ {
			d := l.backoff(attempt)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("backoff(%d) = %v, want %v ±20%%", attempt, d, base)
			}
		}
	}
}

func TestFromConfig(t *testing.T) {
	no := false
	o, err := FromConfig(&config.MQTT{URL: "mqtt://broker.lan", QoS: 1, Discovery: &no}, "box-1", "/var/lib/meshbox")
	if err != nil {
		t.Fatal(err)
	}
	if o.URL.Host != "broker.lan:1883" || o.Base != "meshbox/box-1" || o.ClientID != "meshbox-box-1" || !o.Retain || o.Discovery || o.TLS != nil {
		t.Errorf("FromConfig defaults = %+v", o)
	}
	if o.StateFile != "/var/lib/meshbox/mqtt-discovery.json" {
		t.Errorf("StateFile = %q", o.StateFile)
	}
	o, err = FromConfig(&config.MQTT{URL: "mqtts://broker.lan", BaseTopic: "home/box/"}, "box", "")
	if err != nil {
		t.Fatal(err)
	}
	if o.TLS == nil || o.TLS.ServerName != "broker.lan" || o.URL.Host != "broker.lan:8883" || o.Base != "home/box" {
		t.Errorf("mqtts options = %+v", o)
	}
	for _, bad := range []config.MQTT{
		{URL: "http://broker"},
		{URL: "mqtt://broker", QoS: 3},
		{URL: "mqtts://broker", CAFile: "/nonexistent/ca.pem"},
	} {
		if _, err := FromConfig(&bad, "box", ""); err == nil || !strings.Contains(err.Error(), "mqtt.") {
			t.Errorf("FromConfig(%+v) error = %v, want one naming the mqtt field", bad, err)
		}
	}
}

package mqttlink

import (
	"crypto/tls"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/mqttlink/mqtttest"
)

// waitStats polls the link's counters until ok holds (10 s).
func waitStats(t *testing.T, l *Link, what string, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(l.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; stats %+v", what, l.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// barrier publishes a live command and waits until the hub applied it:
// the broker delivers in order, so a retained command sent at subscribe
// time would have been handled before it.
func barrier(t *testing.T, w *mqtttest.Watcher, hub *fakeHub, value string) {
	t.Helper()
	w.Publish("meshbox/box1/dimmer/set", value)
	want := "dimmer=" + value + " from mqtt"
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(hub.appliedList(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("live command %s not applied; applied %q", value, hub.appliedList())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lampApplied(hub *fakeHub) bool {
	for _, a := range hub.appliedList() {
		if strings.HasPrefix(a, "lamp=") {
			return true
		}
	}
	return false
}

// A retained ON on a set topic, left before the box starts and again
// before it reconnects to a restarted broker, never switches the output;
// a live ON does. Run twice: with MQTT 5 retain handling "do not send"
// (what the link asks for) and with the broker sending retained messages
// anyway (handling 0), where the retain flag check must drop them, logged
// once per topic.
func TestRetainedCommandNeverActs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handling byte
	}{{"retain-handling-do-not-send", retainDoNotSend}, {"retain-flag-dropped", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			b := mqtttest.Start(t, "", "")
			gate := mqtttest.NewGate(t, b)
			w := mqtttest.Watch(t, b, "", "", "meshbox/#")
			w.PublishRetained("meshbox/box1/lamp/set", "ON")
			w.PublishRetained("meshbox/box1/door/set", "PRESS")

			hub := newFakeHub(testValues())
			o := testOptions(b)
			o.URL = gate.URL()
			lt := logtest.New(t)
			l := New(o, hub, testControls(), lt.Logger())
			l.setRetainHandling = tc.handling
			startLink(t, l)
			waitStats(t, l, "the first subscription", func(s Stats) bool { return s.Subscribed == 1 })
			barrier(t, w, hub, "5")
			if lampApplied(hub) || slices.ContainsFunc(hub.appliedList(), func(s string) bool { return strings.HasPrefix(s, "door=") }) {
				t.Fatalf("a retained command acted at start: %q", hub.appliedList())
			}

			// The broker restarts (losing every retained message) while the
			// box is cut off; a retained ON is left again before the box is
			// back.
			gate.Close()
			waitStats(t, l, "the disconnect", func(Stats) bool { return !l.Connected() })
			b.Stop()
			b.Start()
			w2 := mqtttest.Watch(t, b, "", "", "meshbox/#")
			w2.PublishRetained("meshbox/box1/lamp/set", "ON")
			gate.Open()
			waitStats(t, l, "the second subscription", func(s Stats) bool { return s.Subscribed == 2 })
			barrier(t, w2, hub, "6")
			if lampApplied(hub) {
				t.Fatalf("a retained command acted after the reconnect: %q", hub.appliedList())
			}
			if v := hub.Snapshot()["lamp"]; v != false {
				t.Fatalf("lamp = %v, want it off", v)
			}
			if tc.handling == 0 {
				if st := l.Stats(); st.Retained != 3 {
					t.Errorf("retained commands dropped = %d, want 3 (lamp twice, door once)", st.Retained)
				}
				if n := len(lt.Matching("ignoring a retained command", "topic=meshbox/box1/lamp/set")); n != 1 {
					t.Errorf("lamp's retained command logged %d times, want once:\n%s", n, lt.String())
				}
				if n := len(lt.Matching("ignoring a retained command", "topic=meshbox/box1/door/set")); n != 1 {
					t.Errorf("door's retained command logged %d times, want once", n)
				}
			} else if st := l.Stats(); st.Retained != 0 {
				t.Errorf("the broker sent %d retained commands despite retain handling 2", st.Retained)
			}

			// A live ON switches it, and the state answers.
			w2.Publish("meshbox/box1/lamp/set", "ON")
			w2.WaitFor("meshbox/box1/lamp/state", "ON", 10*time.Second)
			if !slices.Contains(hub.appliedList(), "lamp=true from mqtt") {
				t.Errorf("live ON not applied: %q", hub.appliedList())
			}
		})
	}
}

// A refused command publishes its reason on <base>/<id>/error, not
// retained.
func TestRefusedCommandPublishesError(t *testing.T) {
	b := mqtttest.Start(t, "", "")
	w := mqtttest.Watch(t, b, "", "", "meshbox/#")
	hub := newFakeHub(testValues())
	r := runLink(t, testOptions(b), hub, testControls())
	waitStats(t, r.link, "the subscription", func(s Stats) bool { return s.Subscribed == 1 })

	w.Publish("meshbox/box1/lamp/set", "maybe")
	m := w.WaitFor("meshbox/box1/lamp/error", `switch command "maybe" is not ON or OFF`, 10*time.Second)
	if m.Retain {
		t.Error("error message delivered as retained")
	}
	w.Publish("meshbox/box1/button/set", "ON")
	w.WaitFor("meshbox/box1/button/error", "input controls take no commands", 10*time.Second)
	w.Publish("meshbox/box1/nosuch/set", "ON")
	w.WaitFor("meshbox/box1/nosuch/error", "unknown control", 10*time.Second)
	hub.refuse("dimmer", "interlocked with lamp")
	w.Publish("meshbox/box1/dimmer/set", "50")
	w.WaitFor("meshbox/box1/dimmer/error", "interlocked with lamp", 10*time.Second)

	// Not retained: a new subscriber does not get it.
	w2 := mqtttest.Watch(t, b, "", "", "meshbox/#")
	w2.WaitFor("meshbox/box1/lamp/state", "OFF", 10*time.Second) // retained state arrives
	if p, ok := w2.Last("meshbox/box1/lamp/error"); ok {
		t.Errorf("a new subscriber got the error %q: it was retained", p)
	}
	// An accepted command answers with its state even when nothing changed.
	w.Publish("meshbox/box1/lamp/set", "OFF")
	waitStats(t, r.link, "the OFF command", func(s Stats) bool { return s.Commands == 1 })
	w2.WaitFor("meshbox/box1/lamp/state", "OFF", 10*time.Second)
}

// Home Assistant's birth message brings discovery and states back after
// the broker lost them.
func TestHomeAssistantOnlineRepublishes(t *testing.T) {
	b := mqtttest.Start(t, "", "")
	w := mqtttest.Watch(t, b, "", "", "homeassistant/#", "meshbox/#")
	hub := newFakeHub(testValues())
	r := runLink(t, testOptions(b), hub, testControls())
	waitStats(t, r.link, "the subscription", func(s Stats) bool { return s.Subscribed == 1 })
	topics := []string{
		"homeassistant/switch/box1/lamp/config", "homeassistant/button/box1/door/config",
		"homeassistant/number/box1/dimmer/config", "homeassistant/binary_sensor/box1/button/config",
		"homeassistant/sensor/box1/climate_temperature/config",
	}
	for _, tp := range topics {
		w.WaitFor(tp, "*", 10*time.Second)
	}
	w.WaitFor("meshbox/box1/climate_temperature/state", "21.5", 10*time.Second)

	// The broker loses them (a wiped store): clear every retained topic.
	for _, tp := range append(topics, "meshbox/box1/climate_temperature/state", "meshbox/box1/lamp/state") {
		w.PublishRetained(tp, "")
	}
	// A round trip: retained messages would have come first.
	empty := mqtttest.Watch(t, b, "", "", "homeassistant/+/box1/#", "meshbox/box1/lamp/state", "meshbox/box1/dimmer/state")
	empty.Publish("meshbox/box1/dimmer/set", "7")
	empty.WaitFor("meshbox/box1/dimmer/state", "7", 10*time.Second)
	if _, ok := empty.Last("homeassistant/switch/box1/lamp/config"); ok {
		t.Fatal("discovery still retained after clearing it")
	}

	// Home Assistant restarts and says so: everything comes back, retained.
	ha := mqtttest.Watch(t, b, "", "", "homeassistant/+/box1/#")
	ha.Publish("homeassistant/status", "online")
	after := time.Now()
	for _, tp := range topics {
		if m := ha.WaitFor(tp, "*", 10*time.Second); len(m.Payload) == 0 {
			t.Errorf("%s came back empty", tp)
		}
	}
	fresh := mqtttest.Watch(t, b, "", "", "homeassistant/#", "meshbox/#")
	for _, tp := range topics {
		if m := fresh.WaitFor(tp, "*", 10*time.Second); len(m.Payload) == 0 || !m.Retain {
			t.Errorf("%s = %q (retain %v) after online", tp, m.Payload, m.Retain)
		}
	}
	fresh.WaitFor("meshbox/box1/climate_temperature/state", "21.5", 10*time.Second)
	fresh.WaitFor("meshbox/box1/lamp/state", "OFF", 10*time.Second)
	t.Logf("discovery back %v after homeassistant/status online", time.Since(after).Round(time.Millisecond))
	// "offline" (Home Assistant's last will) changes nothing.
	w.Publish("homeassistant/status", "offline")
}

// Commands over a plain connection without a user are warned about at
// start (anyone on the broker can switch the outputs); with a user, the
// clear-text password is.
func TestWarnsAboutUnauthenticatedPlainCommands(t *testing.T) {
	for _, tc := range []struct {
		user, want string
	}{
		{"", "commands are taken over an unauthenticated plain connection"},
		{"box", "the broker password and every command travel unencrypted"},
	} {
		o := Options{URL: &url.URL{Scheme: "mqtt", Host: "127.0.0.1:1"}, Username: tc.user, Base: "meshbox/b"}
		lt := logtest.New(t)
		l := New(o, newFakeHub(testValues()), testControls(), lt.Logger())
		l.warnInsecure()
		if m := lt.Matching("level=WARN", tc.want); len(m) != 1 {
			t.Errorf("user %q: no warning %q:\n%s", tc.user, tc.want, lt.String())
		}
	}
	lt := logtest.New(t)
	o := Options{URL: &url.URL{Scheme: "mqtts", Host: "127.0.0.1:1"}, Username: "box", TLS: &tls.Config{}, Base: "meshbox/b"}
	New(o, newFakeHub(testValues()), testControls(), lt.Logger()).warnInsecure()
	if lt.String() != "" {
		t.Errorf("mqtts with a user warned:\n%s", lt.String())
	}
}

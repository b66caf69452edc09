package box

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/mqttlink/mqtttest"
)

// linksYAML is an encrypted box with an edge-broadcasting input, an I²C
// sensor, a notify rule on the input, history (defaults) and MQTT (the
// broker's URL is filled in).
const linksYAML = `
name: vault
e2ee: true
mdns: {disabled: true}
outputs:
  - {id: lamp, pin: 17}
inputs:
  - {id: door, pin: 23, active_low: true, broadcast: event}
sensors:
  - id: air
    driver: sht3x
    interval: 200ms
    fields:
      - {name: air_temp, source: temperature}
      - {name: air_humidity, source: humidity, min: 0, max: 100}
automations:
  - id: door_open
    when: "door"
    do: [{notify: "Door opened in the vault"}]
mqtt:
  url: %s
  qos: 1
`

// roomLog is what a wiretap saw, each broadcast envelope opened once with
// the room key (an Opener refuses a second opening as a replay).
type roomLog struct {
	tap    *wiretap
	opener *e2ee.Room
	mu     sync.Mutex
	next   int              // frames of tap already looked at
	opened []map[string]any // the opened payloads, in order
	clear  []string         // broadcast payloads that were not envelopes
	bad    []string         // envelopes that did not open
}

func (l *roomLog) scan() {
	l.mu.Lock()
	defer l.mu.Unlock()
	frames := l.tap.all()
	for _, f := range frames[l.next:] {
		if f.Type != "broadcast" {
			continue
		}
		if !e2ee.IsEnvelope(f.Payload) {
			l.clear = append(l.clear, string(f.Payload))
			continue
		}
		pt, err := l.opener.Open(f.Payload)
		if err != nil {
			l.bad = append(l.bad, fmt.Sprintf("%.120s: %v", f.Payload, err))
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(pt, &m); err != nil {
			l.bad = append(l.bad, fmt.Sprintf("opened to non-JSON %q", pt))
			continue
		}
		l.opened = append(l.opened, m)
	}
	l.next = len(frames)
}

// wait returns the first opened payload match accepts, scanning what the
// wiretap receives until d has passed (a failure bound only).
func (l *roomLog) wait(t *testing.T, what string, d time.Duration, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		l.scan()
		l.mu.Lock()
		if len(l.clear) > 0 {
			defer l.mu.Unlock()
			t.Fatalf("plaintext left the bridge while waiting for %s: %q", what, l.clear)
		}
		for _, m := range l.opened {
			if match(m) {
				l.mu.Unlock()
				return m
			}
		}
		kinds := map[string]int{}
		for _, m := range l.opened {
			mt, _ := m["msg_type"].(string)
			kinds[mt]++
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no sealed %s within %v (opened %v)", what, d, kinds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startLinksBox runs the box on cfg and board with the e2ee token and
// returns it and its ws:// URL; it is stopped at cleanup.
func startLinksBox(t *testing.T, cfg *config.Config, board *simhost.Board) (*Box, string) {
	t.Helper()
	tb := startBoxWith(t, cfg, logtest.New(t).Logger(), func(o *Options) {
		o.Board, o.Token = board, e2eeToken
	})
	return tb.Box, tb.url()
}

// TestEncryptedRoomInputsNotifyErrorsAndLinks: in an encrypted room (a
// box built from YAML with an edge input, an I²C sensor, a notify rule,
// history and MQTT on a real mosquitto) the input edges, the rule's
// notification and a sensor's read error leave the bridge only sealed (a
// guest with the token and no key sees envelopes, the room key opens them
// to input, notify and sensor_error), while MQTT and /api/history, on the
// box's side of the cipher, stay clear: plaintext states and sensor values
// on the broker, an MQTT set switches the pin, and the history API answers
// plain JSON points.
func TestEncryptedRoomInputsNotifyErrorsAndLinks(t *testing.T) {
	broker := mqtttest.Start(t, "", "")
	cfg, err := config.Parse("vault.yaml", []byte(fmt.Sprintf(linksYAML, broker.URL())))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.E2EE || cfg.MQTT == nil || cfg.History.Disabled || len(cfg.Inputs) != 1 || cfg.Inputs[0].Broadcast != "event" {
		t.Fatalf("parsed config: e2ee %v mqtt %v history disabled %v inputs %+v", cfg.E2EE, cfg.MQTT, cfg.History.Disabled, cfg.Inputs)
	}
	air := cfg.Sensors[0]
	if air.Driver != config.DriverSHT3x || air.Bus == "" || air.Address == 0 {
		t.Fatalf("sensor %+v", air)
	}
	const d = 15 * time.Second
	w := mqtttest.Watch(t, broker, "", "", "meshbox/#")
	board := simhost.New(simhost.Options{Seed: 5})
	t.Cleanup(func() { board.Close() })
	bx, url := startLinksBox(t, cfg, board)
	key := bx.RoomKeys().Key()
	opener, err := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	room := &roomLog{tap: newWiretap(t, url), opener: opener}
	lamp, door := gpio.Line{Offset: 17}, gpio.Line{Offset: 23}

	// The guest is in the room once it sees a (sealed) metrics frame.
	room.wait(t, "metrics", d, func(m map[string]any) bool { return m["msg_type"] == "metrics" && m["source"] == "air" })

	// MQTT is up (subscribed before it says online) and carries plaintext.
	w.WaitFor("meshbox/vault/availability", "online", d)
	w.WaitFor("meshbox/vault/lamp/state", "OFF", d)
	w.WaitFor("meshbox/vault/door/state", "OFF", d)
	temp := w.WaitFor("meshbox/vault/air_temp/state", "*", d)
	if v, err := strconv.ParseFloat(string(temp.Payload), 64); err != nil || v < -40 || v > 125 {
		t.Fatalf("MQTT air_temp = %q (%v): not a plaintext temperature", temp.Payload, err)
	}

	// The door opens: a sealed input edge and the rule's sealed notify; MQTT
	// has the input's state in clear.
	if err := board.Press(door); err != nil {
		t.Fatal(err)
	}
	in := room.wait(t, "input edge of door", d, func(m map[string]any) bool {
		return m["msg_type"] == "input" && m["target"] == "door"
	})
	if e, _ := in["edge"].(string); e != "rising" && e != "falling" {
		t.Fatalf("sealed input %v", in)
	}
	room.wait(t, "notify of door_open", d, func(m map[string]any) bool {
		return m["msg_type"] == "notify" && m["source"] == "door_open" && m["text"] == "Door opened in the vault"
	})
	w.WaitFor("meshbox/vault/door/state", "ON", d)

	// MQTT → hardware: the set acts, the broker and the room (sealed) follow.
	w.Publish("meshbox/vault/lamp/set", "ON")
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := board.WaitOutput(ctx, lamp, true); err != nil {
		t.Fatalf("MQTT lamp/set ON did not switch the pin: %v", err)
	}
	w.WaitFor("meshbox/vault/lamp/state", "ON", d)
	room.wait(t, "state of lamp", d, func(m map[string]any) bool {
		return m["msg_type"] == "state" && m["target"] == "lamp" && m["value"] == true
	})

	// /api/history (Bearer token): plain JSON points of a sensor field and
	// of the output MQTT switched.
	base := "http" + strings.TrimPrefix(strings.TrimSuffix(url, "/"), "ws")
	history := func(field string, ok func([][]float64) bool) historyAnswer {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			req, _ := http.NewRequest("GET", base+"/api/history?field="+field+"&since=1h", nil)
			req.Header.Set("Authorization", "Bearer "+e2eeToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || e2ee.IsEnvelope(body) || strings.Contains(string(body), `"e2ee"`) {
				t.Fatalf("GET /api/history?field=%s: %d %.300s", field, resp.StatusCode, body)
			}
			var a historyAnswer
			if err := json.Unmarshal(body, &a); err != nil || a.Field != field {
				t.Fatalf("history of %s is not plain JSON: %v %.300s", field, err, body)
			}
			if ok(a.Points) {
				return a
			}
			if time.Now().After(deadline) {
				t.Fatalf("history of %s: %.300s", field, body)
			}
			time.Sleep(100 * time.Millisecond) // polling an HTTP answer
		}
	}
	h := history("air_temp", func(p [][]float64) bool { return len(p) >= 2 })
	if h.Unit != "°C" {
		t.Fatalf("air_temp history unit %q", h.Unit)
	}
	for _, p := range h.Points {
		if len(p) != 2 || p[0] < 1e12 || math.IsNaN(p[1]) || p[1] < -40 || p[1] > 125 {
			t.Fatalf("air_temp history point %v", p)
		}
	}
	history("lamp", func(p [][]float64) bool { return len(p) > 0 && p[len(p)-1][1] == 1 })

	// The sensor's I²C device stops answering: a sealed sensor_error.
	board.Bus(air.Bus).SetFault(air.Address, errors.New("simulated fault: no ACK"))
	se := room.wait(t, "sensor_error of air", d, func(m map[string]any) bool {
		return m["msg_type"] == "sensor_error" && m["source"] == "air"
	})
	if e, _ := se["error"].(string); e == "" {
		t.Fatalf("sealed sensor_error without an error: %v", se)
	}
	board.Bus(air.Bus).SetFault(air.Address, nil)

	// Everything the guest was sent: every broadcast an envelope that opens
	// with the room key; no frame of any type carries these payloads in
	// clear.
	room.scan()
	room.mu.Lock()
	defer room.mu.Unlock()
	if len(room.clear) > 0 || len(room.bad) > 0 {
		t.Fatalf("the guest got %d plaintext broadcasts (%q) and %d envelopes that do not open (%q)",
			len(room.clear), room.clear, len(room.bad), room.bad)
	}
	seen := map[string]bool{}
	for _, m := range room.opened {
		mt, _ := m["msg_type"].(string)
		seen[mt] = true
	}
	for _, mt := range []string{"input", "notify", "sensor_error", "state", "metrics"} {
		if !seen[mt] {
			t.Errorf("no sealed %s reached the guest (opened %v)", mt, seen)
		}
	}
	for _, f := range room.tap.all() {
		s := string(f.Payload)
		for _, leak := range []string{`"input"`, `"notify"`, `"sensor_error"`, "Door opened in the vault", "no ACK", `"air_temp"`} {
			if strings.Contains(s, leak) {
				t.Errorf("a %s frame carries %s in clear: %.200s", f.Type, leak, s)
			}
		}
	}
	// And the broker never got an envelope.
	if dump := w.Dump(); strings.Contains(dump, "e2ee") || strings.Contains(dump, `\"ct\"`) {
		t.Errorf("an envelope on MQTT: %s", dump)
	}
}

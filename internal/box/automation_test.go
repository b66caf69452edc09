package box

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/phonetest"
)

const autoYAML = `
name: greenhouse
outputs:
  - {id: heater, pin: 17}
  - {id: vent_fan, pin: 27}
inputs:
  - {id: door, pin: 23, active_low: true}
sensors:
  - id: air
    driver: sht3x
    interval: 200ms
    fields:
      - {name: air_temp, source: temperature}
      - {name: air_humidity, source: humidity, min: 0, max: 100}
thermostats:
  - {id: heating, sensor: air_temp, output: heater, target: 20, deadband: 0.5, range: [5, 30]}
automations:
  - id: vent_humid
    when: "air_humidity > 80"
    do:   [{set: vent_fan, value: true}]
    else: [{set: vent_fan, value: false}]
  - id: door_open
    when: "door"
    do: [{notify: "Door open"}]
`

// startAutoBox runs a box on cfg and returns its ws:// URL.
func startAutoBox(t *testing.T, cfg *config.Config, opts Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Config, opts.Listener = cfg, ln
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	bx, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bx.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-bx.Ready():
	case <-time.After(15 * time.Second):
		t.Fatal("box not ready")
	}
	return "ws://" + ln.Addr().String() + "/"
}

// TestAutomationsEndToEnd: on the simulated board, sim frames over a real
// WebSocket drive the readings; the phone sees the thermostat switch the
// heater, the rule switch the fan, the fail-safe, its controls in the
// snapshot and settable, and notifications.
func TestAutomationsEndToEnd(t *testing.T) {
	cfg, err := config.Parse("greenhouse.yaml", []byte(autoYAML))
	if err != nil {
		t.Fatal(err)
	}
	board := simhost.New(simhost.Options{Seed: 1})
	logs := logtest.New(t)
	stateDir := t.TempDir()
	url := startAutoBox(t, cfg, Options{Sim: true, Board: board, Logger: logs.Logger(), StateDir: stateDir})
	phone := phonetest.Dial(t, url, phonetest.App("phone", ""))
	const wait = 15 * time.Second
	// expect waits until every match has been seen (in any order: acks,
	// states and notifications come from different goroutines).
	expect := func(ms ...phonetest.Match) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		left := append([]phonetest.Match(nil), ms...)
		for len(left) > 0 {
			f, err := phone.Next(ctx)
			if err != nil {
				t.Fatalf("still waiting for %v: %v", left, err)
			}
			if f.Type != "broadcast" {
				continue
			}
			var p map[string]any
			if json.Unmarshal(f.Payload, &p) != nil {
				continue
			}
			for i, m := range left {
				if m.Matches(p) {
					left = append(left[:i], left[i+1:]...)
					break
				}
			}
		}
	}
	n := 0
	ack := func(ok bool) phonetest.Match {
		return phonetest.Msg("command_ack", "cmd_id", strconv.Itoa(n), "ok", ok)
	}
	send := func(payload map[string]any) {
		t.Helper()
		n++
		payload["_cmd"], payload["_from"] = strconv.Itoa(n), phone.Name()
		phone.Broadcast(payload)
	}
	sim := func(target string, value any) {
		send(map[string]any{"msg_type": "sim", "target": target, "value": value})
	}
	cmd := func(target string, value any) {
		send(map[string]any{"msg_type": "cmd", "target": target, "value": value})
	}
	state := func(target string, value any) phonetest.Match {
		return phonetest.Msg("state", "target", target, "value", value)
	}
	heater := gpio.Line{Offset: 17}

	sim("air_humidity", 50)
	expect(ack(true))
	sim("air_temp", 15)
	expect(ack(true), state("heater", true), state("heating_status", "heating"))
	if lvl, _ := board.OutputLevel(heater); !lvl {
		t.Error("heater pin not driven")
	}
	sim("air_humidity", 90)
	expect(ack(true), state("vent_fan", true))
	sim("air_humidity", 60)
	expect(ack(true), state("vent_fan", false))
	sim("air_temp", 21)
	expect(ack(true), state("heater", false))

	// The phone raises the target: the thermostat heats again; a target
	// outside the range is refused.
	cmd("heating", 22)
	expect(ack(true), state("heating", 22.0), state("heater", true))
	cmd("heating", 40)
	expect(ack(false))

	// Fail-safe: the sensor fails, the heater goes off, the status says so.
	send(map[string]any{"msg_type": "sim", "target": "air", "fault": true})
	expect(ack(true), phonetest.Msg("sensor_error", "source", "air"), state("heater", false), state("heating_status", "stale"))
	if l := logs.WaitLines(1, wait, "thermostat fail-safe", "thermostat=heating"); len(l) == 0 {
		t.Error("no fail-safe log line")
	}
	// ... and /metrics (the status is published before the state frame).
	resp, err := http.Get(strings.Replace(url, "ws://", "http://", 1) + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`meshbox_automation_fail_safe{id="heating",kind="thermostat"} 1`, `meshbox_automation_state{id="heating",kind="thermostat",state="stale"} 1`,
		`meshbox_thermostat_target_celsius{thermostat="heating"} 22`, `meshbox_automation_enabled{id="vent_humid",kind="automation"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	send(map[string]any{"msg_type": "sim", "target": "air", "fault": false})
	expect(ack(true), state("heater", true))

	// An input level from a sim frame; the rule notifies.
	sim("door", true)
	expect(ack(true), state("door", true), phonetest.Msg("notify", "source", "door_open", "text", "Door open"))

	// Disable the vent rule from the phone: its control is a bool.
	cmd("vent_humid", false)
	expect(ack(true), state("vent_humid", false))
	sim("air_humidity", 95)
	expect(ack(true), phonetest.Msg("metrics", "air_humidity", 95.0))
	expect(phonetest.Msg("metrics", "air_humidity", 95.0)) // a rule acts on the reading it gets

	phone.Broadcast(map[string]any{"msg_type": "control_sync_request", "from": phone.Name()})
	snap := phone.ExpectBroadcast(phonetest.Msg("control_snapshot"), wait)
	ctrls, _ := snap["controls"].(map[string]any)
	if ctrls["heating"] != 22.0 || ctrls["vent_humid"] != false || ctrls["door_open"] != true || ctrls["heating_status"] == nil {
		t.Errorf("snapshot controls %v", ctrls)
	}
	if ctrls["vent_fan"] != false {
		t.Errorf("a disabled rule switched the fan: %v", ctrls["vent_fan"])
	}
	// The controls are saved for the next start.
	deadline := time.Now().Add(wait)
	for {
		data, _ := os.ReadFile(filepath.Join(stateDir, automationsFile))
		if string(data) != "" && strings.Contains(string(data), `"heating":22`) && strings.Contains(string(data), `"vent_humid":false`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("automation state not saved: %s", data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSimRefusedOnHardware: a box on real hardware (here: a host that is
// not the simulated board) refuses sim frames with "not simulated".
func TestSimRefusedOnHardware(t *testing.T) {
	cfg, err := config.Parse("greenhouse.yaml", []byte(autoYAML))
	if err != nil {
		t.Fatal(err)
	}
	url := startAutoBox(t, cfg, Options{Host: simhost.New(simhost.Options{Seed: 2})})
	phone := phonetest.Dial(t, url, phonetest.App("phone", ""))
	phone.Broadcast(map[string]any{"msg_type": "sim", "target": "air_temp", "value": 15, "_cmd": "x", "_from": phone.Name()})
	ack := phone.ExpectAck("x", 15*time.Second)
	if ack["ok"] != false || ack["error"] != "not simulated" {
		t.Fatalf("ack %v", ack)
	}
}

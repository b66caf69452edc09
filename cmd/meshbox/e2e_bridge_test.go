package main

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// highIntervals returns the [on, off) intervals of an output's history.
func highIntervals(h []simhost.Change, end time.Time) [][2]time.Time {
	var out [][2]time.Time
	var on time.Time
	high := false
	for _, c := range h {
		switch {
		case c.Level && !high:
			on, high = c.Time, true
		case !c.Level && high:
			out = append(out, [2]time.Time{on, c.Time})
			high = false
		}
	}
	if high {
		out = append(out, [2]time.Time{on, end})
	}
	return out
}

// TestBridgeEndToEnd starts meshbox (serve, as run does) on the simulated
// board with the built-in demo, joins as a phone over a real WebSocket and
// checks the bridge's behaviour on the mesh, then the exit states.
func TestBridgeEndToEnd(t *testing.T) {
	const token = "e2e-token"
	board := simhost.New(simhost.Options{Seed: 7})
	addr, stop, logs := startServeOn(t, board, map[string]string{"MESH_AUTH_TOKEN": token}, "-sim")

	ph := phonetest.Dial(t, "ws://"+addr+"/", phonetest.App("iPhone", token))
	demo := config.Demo()

	// Metrics arrive (the demo publishes every 2 s).
	for _, src := range []string{"climate", "light", "cpu"} {
		ph.ExpectBroadcast(phonetest.Msg("metrics", "source", src), 10*time.Second)
	}

	// A late joiner's snapshot lists every control with a value.
	ph.Broadcast(map[string]any{"msg_type": "control_sync_request", "from": "iPhone", "dynamic": []string{}})
	snap := ph.ExpectBroadcast(phonetest.Msg("control_snapshot", "to", "iPhone"), 5*time.Second)
	controls, _ := snap["controls"].(map[string]any)
	var missing []string
	for _, c := range bridge.Controls(demo) {
		if v, ok := controls[c.ID]; !ok || v == nil {
			missing = append(missing, c.ID)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 || snap["v"] == nil {
		t.Errorf("snapshot v=%v lacks %v: %v", snap["v"], missing, controls)
	}

	// A cmd switches the lamp: state echo, then command_ack; the pin is high.
	lamp := gpio.Line{Offset: 17}
	ph.CmdAck("lamp", "true", "c-1")
	if st := ph.ExpectState("lamp", 5*time.Second); st["value"] != true {
		t.Errorf("lamp state = %v, want true", st["value"])
	}
	ph.ExpectBroadcast(phonetest.Msg("command_ack", "cmd_id", "c-1", "to", "iPhone", "ok", true), 5*time.Second)
	if lvl, ok := board.OutputLevel(lamp); !ok || !lvl {
		t.Errorf("lamp pin level = %v (claimed %v), want high", lvl, ok)
	}
	// PWM from its string form.
	ph.Cmd("dimmer", "75.0")
	if st := ph.ExpectState("dimmer", 5*time.Second); st["value"] != 75.0 {
		t.Errorf("dimmer state = %v", st["value"])
	}
	// An unknown target is refused with a reason.
	ph.CmdAck("warp_drive", true, "c-2")
	if ack := ph.ExpectAck("c-2", 5*time.Second); ack["ok"] != false || ack["error"] == nil {
		t.Errorf("ack = %v, want ok:false with an error", ack)
	}

	// The interlocked valves: back-to-back commands for both; they are
	// never on together, and the last one wins.
	for i := range 4 {
		target := []string{"valve_open", "valve_close"}[i%2]
		ph.Broadcast(map[string]any{"msg_type": "cmd", "target": target, "value": true, "_cmd": "v" + string(rune('0'+i))})
	}
	ph.ExpectBroadcast(phonetest.Msg("command_ack", "cmd_id", "v3", "ok", true), 10*time.Second)
	vo, vc := gpio.Line{Offset: 5}, gpio.Line{Offset: 6}
	if o, _ := board.OutputLevel(vo); o {
		t.Error("valve_open still on after valve_close was commanded")
	}
	if c, _ := board.OutputLevel(vc); !c {
		t.Error("valve_close not on")
	}
	now := time.Now()
	for _, a := range highIntervals(board.OutputHistory(vo), now) {
		for _, b := range highIntervals(board.OutputHistory(vc), now) {
			if a[0].Before(b[1]) && b[0].Before(a[1]) {
				t.Errorf("valves both on: open %v–%v, close %v–%v", a[0], a[1], b[0], b[1])
			}
		}
	}

	if !strings.Contains(logs.String(), "simulated hardware: -sim") {
		t.Error("the log does not say the hardware is simulated")
	}

	// SIGTERM (ctx cancelled): every output in its exit state (the demo's: off).
	if err := stop(); err != nil {
		t.Errorf("serve returned %v", err)
	}
	for _, o := range demo.Outputs {
		if o.Kind == config.KindPWM {
			if _, duty, _, ok := board.PWMState(gpio.PWMRef{Chip: o.PWMChip, Channel: o.PWMChannel, Pin: o.Pin.BCM}); !ok || duty != 0 {
				t.Errorf("%s duty = %v after exit, want 0", o.ID, duty)
			}
			continue
		}
		if lvl, ok := board.OutputLevel(gpio.Line{Offset: o.Pin.BCM}); !ok || lvl {
			t.Errorf("%s level = %v after exit, want low", o.ID, lvl)
		}
	}
}

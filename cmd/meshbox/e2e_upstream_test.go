package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// Two meshbox processes on loopback: box B has upstream: box A. A phone on
// A sees B's sensors and switches B's outputs (ids prefixed "boxb."); A's
// identical ids are A's own. Then A restarts: B reconnects by itself and
// re-sends its snapshot.
func TestUpstreamEndToEnd(t *testing.T) {
	const tokA, tokB = "token-box-a", "token-box-b"
	lamp, fan := gpio.Line{Offset: 17}, gpio.Line{Offset: 27}
	boardA, boardB := simhost.New(simhost.Options{Seed: 1}), simhost.New(simhost.Options{Seed: 2})
	stateA, stateB := t.TempDir(), t.TempDir()
	cfgA := lkConfig(t, "boxa", "")
	a := lkServe(t, "127.0.0.1:0", cfgA, tokA, stateA, boardA)
	// B reaches A through a proxy the test can close (to order the restart).
	proxy := lkStartProxy(t, a.addr)
	cfgB := lkConfig(t, "boxb", fmt.Sprintf("upstream:\n  url: %s\n  token: %s\n", proxy.url(), tokA))
	b := lkServe(t, "127.0.0.1:0", cfgB, tokB, stateB, boardB)

	ph := phonetest.Dial(t, a.url("/"), phonetest.App("iPhone", tokA))
	start := time.Now()
	m := ph.ExpectBroadcastFunc("box B's metrics on A", 15*time.Second, func(f map[string]any) bool {
		_, ok := f["boxb.climate_temperature"]
		return f["msg_type"] == "metrics" && f["source"] == "boxb.climate" && ok
	})
	t.Logf("box B's climate on A's relay %v after the phone joined: %v", time.Since(start).Round(time.Millisecond), m)
	ph.ExpectBroadcast(phonetest.Msg("metrics", "source", "climate"), 5*time.Second)

	// The phone on A switches B's lamp.
	start = time.Now()
	ph.CmdAck("boxb.lamp", true, "u1")
	ph.ExpectBroadcast(phonetest.Msg("state", "target", "boxb.lamp", "value", true), 5*time.Second)
	t.Logf("phone on A: cmd boxb.lamp -> state echo from B in %v", time.Since(start).Round(time.Microsecond))
	ph.ExpectBroadcast(phonetest.Msg("command_ack", "cmd_id", "u1", "to", "iPhone", "ok", true), 5*time.Second)
	if on, _ := boardB.OutputLevel(lamp); !on {
		t.Error("box B's lamp pin is low")
	}
	if on, _ := boardA.OutputLevel(lamp); on {
		t.Error("box A's lamp switched by boxb.lamp")
	}
	// "fan" on A's channel is A's fan only.
	ph.Cmd("fan", true)
	ph.ExpectBroadcast(phonetest.Msg("state", "target", "fan", "value", true), 5*time.Second)
	ph.Cmd("boxb.dimmer", 40)
	ph.ExpectBroadcast(phonetest.Msg("state", "target", "boxb.dimmer", "value", 40.0), 5*time.Second)
	if on, _ := boardB.OutputLevel(fan); on {
		t.Error("box B's fan switched by a command for A's fan")
	}
	// B's own phone sees its lamp with its plain id.
	local := phonetest.Dial(t, b.url("/"), phonetest.App("localPhone", tokB))
	local.BroadcastJSON(`{"msg_type":"control_sync_request","from":"localPhone"}`)
	snap := local.ExpectBroadcastFunc("B's local snapshot", 5*time.Second, lkSnapshotWith("lamp", false))
	if c := snap["controls"].(map[string]any); c["lamp"] != true || c["fan"] != false {
		t.Errorf("B's local snapshot = %v", c)
	}

	// A restarts. B is kept off until a phone is on the new A, so that
	// phone sees the snapshot B sends by itself after reconnecting.
	proxy.open.Store(false)
	a.stop()
	restarted := time.Now()
	a2 := lkServe(t, a.addr, cfgA, tokA, stateA, simhost.New(simhost.Options{Seed: 3}))
	ph2 := phonetest.Dial(t, a2.url("/"), phonetest.App("iPhone2", tokA))
	proxy.open.Store(true)
	snap = ph2.ExpectBroadcastFunc("B's snapshot after A's restart", 20*time.Second, lkSnapshotWith("boxb.lamp", true))
	t.Logf("B's snapshot on the restarted A %v after the restart", time.Since(restarted).Round(time.Millisecond))
	if c := snap["controls"].(map[string]any); c["boxb.lamp"] != true || c["boxb.dimmer"] != 40.0 {
		t.Errorf("B's snapshot after reconnect = %v", c)
	}
	// And commands flow again.
	ph2.Cmd("boxb.lamp", false)
	ph2.ExpectBroadcast(phonetest.Msg("state", "target", "boxb.lamp", "value", false), 5*time.Second)
	if on, _ := boardB.OutputLevel(lamp); on {
		t.Error("box B's lamp still on")
	}
}

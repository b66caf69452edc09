package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
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

	ph := lkJoin(t, a.url("/"), "iPhone", tokA)
	start := time.Now()
	m := ph.wait("box B's metrics on A", 15*time.Second, func(f map[string]any) bool {
		_, ok := f["boxb.climate_temperature"]
		return f["msg_type"] == "metrics" && f["source"] == "boxb.climate" && ok
	})
	t.Logf("box B's climate on A's relay %v after the phone joined: %v", time.Since(start).Round(time.Millisecond), m)
	ph.wait("box A's own metrics", 5*time.Second, lkMsg("metrics", "source", "climate"))

	// The phone on A switches B's lamp.
	start = time.Now()
	ph.broadcast(`{"msg_type":"cmd","target":"boxb.lamp","value":true,"_cmd":"u1","_from":"iPhone"}`)
	ph.wait("boxb.lamp state", 5*time.Second, lkMsg("state", "target", "boxb.lamp", "value", true))
	t.Logf("phone on A: cmd boxb.lamp -> state echo from B in %v", time.Since(start).Round(time.Microsecond))
	ph.wait("B's ack", 5*time.Second, lkMsg("command_ack", "cmd_id", "u1", "to", "iPhone", "ok", true))
	if on, _ := boardB.OutputLevel(lamp); !on {
		t.Error("box B's lamp pin is low")
	}
	if on, _ := boardA.OutputLevel(lamp); on {
		t.Error("box A's lamp switched by boxb.lamp")
	}
	// "fan" on A's channel is A's fan only.
	ph.broadcast(`{"msg_type":"cmd","target":"fan","value":true}`)
	ph.wait("A's fan", 5*time.Second, lkMsg("state", "target", "fan", "value", true))
	ph.broadcast(`{"msg_type":"cmd","target":"boxb.dimmer","value":40}`)
	ph.wait("B's dimmer", 5*time.Second, lkMsg("state", "target", "boxb.dimmer", "value", 40.0))
	if on, _ := boardB.OutputLevel(fan); on {
		t.Error("box B's fan switched by a command for A's fan")
	}
	// B's own phone sees its lamp with its plain id.
	local := lkJoin(t, b.url("/"), "localPhone", tokB)
	local.broadcast(`{"msg_type":"control_sync_request","from":"localPhone"}`)
	snap := local.wait("B's local snapshot", 5*time.Second, lkSnapshotWith("lamp", false))
	if c := snap["controls"].(map[string]any); c["lamp"] != true || c["fan"] != false {
		t.Errorf("B's local snapshot = %v", c)
	}

	// A restarts. B is kept off until a phone is on the new A, so that
	// phone sees the snapshot B sends by itself after reconnecting.
	proxy.open.Store(false)
	a.stop()
	restarted := time.Now()
	a2 := lkServe(t, a.addr, cfgA, tokA, stateA, simhost.New(simhost.Options{Seed: 3}))
	ph2 := lkJoin(t, a2.url("/"), "iPhone2", tokA)
	proxy.open.Store(true)
	snap = ph2.wait("B's snapshot after A's restart", 20*time.Second, lkSnapshotWith("boxb.lamp", true))
	t.Logf("B's snapshot on the restarted A %v after the restart", time.Since(restarted).Round(time.Millisecond))
	if c := snap["controls"].(map[string]any); c["boxb.lamp"] != true || c["boxb.dimmer"] != 40.0 {
		t.Errorf("B's snapshot after reconnect = %v", c)
	}
	// And commands flow again.
	ph2.broadcast(`{"msg_type":"cmd","target":"boxb.lamp","value":false}`)
	ph2.wait("boxb.lamp off", 5*time.Second, lkMsg("state", "target", "boxb.lamp", "value", false))
	if on, _ := boardB.OutputLevel(lamp); on {
		t.Error("box B's lamp still on")
	}
}

package links

import (
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// TestLinkedBoxTruthfulAcks: box B is linked to box A's relay (real
// loopback WebSockets). After B's box_announce, A's bridge leaves
// "boxb."-targets to B: a phone on A gets exactly one command_ack per
// _cmd — ok:true from B for boxb.lamp, one ok:false for a target nobody
// owns, one ok:true from A for its own fan.
func TestLinkedBoxTruthfulAcks(t *testing.T) {
	a := startBox(t, fastDemo("boxa"))
	cfgB := fastDemo("boxb")
	cfgB.Upstream = &config.Upstream{URL: a.relay.url(), Token: testToken}
	b := startBox(t, cfgB)
	up, _ := UpstreamFromConfig(cfgB)
	up.Client = fastUpstream
	ph := dialPhone(t, a.relay.url(), "iPhone")
	stop, err := JoinUpstream(b.b, up, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	ph.wait("B's box_announce", 10*time.Second, isMsg("box_announce", "box", "boxb", "prefix", "boxb."))
	deadline := time.Now().Add(10 * time.Second)
	for a.b.LinkedOwner("boxb.lamp") != "boxb" {
		if time.Now().After(deadline) {
			t.Fatal("A's bridge did not learn B's prefix from its announce")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not synchronising
	}

	ph.broadcast(`{"msg_type":"cmd","target":"boxb.lamp","value":true,"_cmd":"k1","_from":"iPhone"}`)
	ph.broadcast(`{"msg_type":"cmd","target":"nobody.x","value":true,"_cmd":"k2","_from":"iPhone"}`)
	ph.broadcast(`{"msg_type":"cmd","target":"fan","value":true,"_cmd":"k3","_from":"iPhone"}`)
	ph.broadcast(`{"msg_type":"cmd","target":"boxb.fan","value":true,"_cmd":"k4","_from":"iPhone"}`)
	acks := map[string][]bool{}
	ph.wait("acks k3 and k4", 15*time.Second, func(f map[string]any) bool {
		if f["msg_type"] != "command_ack" {
			return false
		}
		id, _ := f["cmd_id"].(string)
		ok, _ := f["ok"].(bool)
		acks[id] = append(acks[id], ok)
		return len(acks["k3"]) > 0 && len(acks["k4"]) > 0
	})
	// A's acks come in A's order (k2 before k3), B's in B's (k1 before k4):
	// a second ack for k1 or k2 from either box would have arrived by now.
	want := map[string]bool{"k1": true, "k2": false, "k3": true, "k4": true}
	for id, ok := range want {
		if got := acks[id]; len(got) != 1 || got[0] != ok {
			t.Errorf("acks for %s = %v, want exactly one ok:%v", id, got, ok)
		}
	}
	if !level(t, b, lampLine) || level(t, a, lampLine) {
		t.Errorf("lamp: A %v B %v, want only B's on", level(t, a, lampLine), level(t, b, lampLine))
	}

	// A's control_snapshot holds B's values (prefixed) next to its own.
	ph.broadcast(`{"msg_type":"control_sync_request","from":"iPhone"}`)
	snap := ph.wait("A's merged snapshot", 10*time.Second, func(f map[string]any) bool {
		c, _ := f["controls"].(map[string]any)
		_, own := c["lamp"]
		return f["msg_type"] == "control_snapshot" && own && c["boxb.lamp"] == true && c["boxb.fan"] == true
	})
	if c := snap["controls"].(map[string]any); c["fan"] != true || c["lamp"] != false {
		t.Errorf("A's snapshot own values = fan %v lamp %v, want true false", c["fan"], c["lamp"])
	}

	// B stops: A's next snapshot has B's ids with null values (the relay's
	// roster says B left); B comes back: its values are restored.
	stop()
	gone := func(f map[string]any) bool {
		c, _ := f["controls"].(map[string]any)
		v, has := c["boxb.lamp"]
		return f["msg_type"] == "control_snapshot" && has && v == nil
	}
	start := time.Now()
	deadline = time.Now().Add(15 * time.Second)
	for a.b.LinkedOwner("boxb.lamp") != "" {
		if time.Now().After(deadline) {
			t.Fatal("A still thinks B is linked after B left")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
	ph.broadcast(`{"msg_type":"control_sync_request","from":"iPhone"}`)
	ph.wait("A's snapshot with B unavailable", 10*time.Second, gone)
	t.Logf("B unavailable on A %v after B stopped", time.Since(start).Round(time.Millisecond))
	ph.broadcast(`{"msg_type":"cmd","target":"boxb.lamp","value":false,"_cmd":"k5","_from":"iPhone"}`)
	ph.wait("ok:false for a gone box", 10*time.Second, isMsg("command_ack", "cmd_id", "k5", "ok", false))

	stop2, err := JoinUpstream(b.b, up, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	start = time.Now()
	deadline = time.Now().Add(15 * time.Second)
	for a.b.LinkedOwner("boxb.lamp") != "boxb" {
		if time.Now().After(deadline) {
			t.Fatal("A did not hear B's announce after B rejoined")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
	ph.broadcast(`{"msg_type":"control_sync_request","from":"iPhone"}`)
	ph.wait("A's snapshot with B back", 15*time.Second, func(f map[string]any) bool {
		c, _ := f["controls"].(map[string]any)
		_, own := c["lamp"]
		return f["msg_type"] == "control_snapshot" && own && c["boxb.lamp"] == true
	})
	t.Logf("B restored on A %v after B rejoined", time.Since(start).Round(time.Millisecond))
}

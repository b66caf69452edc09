package box

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/relay"
)

// collectAcks reads p's frames until every id in want has an ack, and
// returns the acks seen per _cmd.
func collectAcks(p *linkedPhone, want ...string) map[string][]bool {
	p.t.Helper()
	acks := map[string][]bool{}
	p.wait("acks "+strings.Join(want, ","), 15*time.Second, func(m map[string]any) bool {
		if m["msg_type"] == "command_ack" {
			id, _ := m["cmd_id"].(string)
			ok, _ := m["ok"].(bool)
			acks[id] = append(acks[id], ok)
		}
		for _, id := range want {
			if len(acks[id]) == 0 {
				return false
			}
		}
		return true
	})
	return acks
}

func wantAcks(t *testing.T, who string, acks map[string][]bool, want map[string]bool) {
	t.Helper()
	for id, ok := range want {
		if got := acks[id]; len(got) != 1 || got[0] != ok {
			t.Errorf("%s: acks for %s = %v, want exactly one ok:%v", who, id, got, ok)
		}
	}
}

// TestHubOnAPlainRelay (issue #19): the boxes share a relay that is not a
// meshbox (a bare relay, which aggregates nothing, like the reference
// Python relay); box garage links there with its prefix and box hubbox
// with plain ids, which makes hubbox the hub on that relay. A phone on the
// plain relay gets one truthful ack per _cmd and one merged snapshot; a
// phone on hubbox's own relay gets garage's tab, switches garage's fan
// through the plain relay and gets garage's ack and state back; garage
// stopping marks its tab offline.
func TestHubOnAPlainRelay(t *testing.T) {
	logs := logtest.New(t)
	rs := relay.New(relay.Config{AuthToken: testToken}, logs.Logger().With("component", "plain relay"))
	srv := httptest.NewServer(rs)
	t.Cleanup(func() { srv.Close(); _ = rs.Close(t.Context()) })
	plain := "ws://" + strings.TrimPrefix(srv.URL, "http://") + "/"

	hubCfg := config.Demo()
	hubCfg.Name = "hubbox"
	none := ""
	hubCfg.Upstream = &config.Upstream{URL: plain, Token: testToken, IDPrefix: &none}
	hub := startBox(t, hubCfg, logs.Logger())
	garage := startBox(t, garageConfig(plain), logs.Logger())

	onHub := &linkedPhone{Phone: phonetest.Dial(t, hub.url(), phonetest.App("iPhone", testToken)), t: t}
	onHub.wait("a pushed layout with garage's tab", 30*time.Second, func(map[string]any) bool {
		return hasControl(tabOf(onHub.layout, "garage"), "garage.lamp")
	})
	if err := layout.ValidateLayout(onHub.layout, nil); err != nil {
		t.Errorf("pushed merged layout: %v", err)
	}

	onPlain := &linkedPhone{Phone: phonetest.Dial(t, plain, phonetest.App("pixel", testToken)), t: t}
	onPlain.wait("box_hub naming garage on the plain relay", 20*time.Second, func(map[string]any) bool { return onPlain.hubbed })

	// On the plain relay: one truthful ack per _cmd.
	onPlain.CmdAck("garage.lamp", true, "p1")
	onPlain.CmdAck("nobody.x", true, "p2")
	onPlain.CmdAck("lamp", true, "p3") // hubbox's own lamp (plain ids there)
	wantAcks(t, "phone on the plain relay", collectAcks(onPlain, "p1", "p2", "p3"),
		map[string]bool{"p1": true, "p2": false, "p3": true})
	if on, _ := garage.board.OutputLevel(gpio.Line{Offset: 17}); !on {
		t.Error("garage's lamp is not on")
	}
	if on, _ := hub.board.OutputLevel(gpio.Line{Offset: 17}); !on {
		t.Error("hubbox's lamp is not on")
	}

	// On hubbox's own relay: garage's fan through the plain relay, its ack
	// and state back, once.
	onHub.CmdAck("garage.fan", true, "h1")
	onHub.CmdAck("nobody.y", true, "h2")
	var fanState bool
	acks := map[string][]bool{}
	onHub.wait("garage's ack and fan state on the hub", 15*time.Second, func(m map[string]any) bool {
		switch m["msg_type"] {
		case "command_ack":
			id, _ := m["cmd_id"].(string)
			ok, _ := m["ok"].(bool)
			acks[id] = append(acks[id], ok)
		case "state":
			if m["target"] == "garage.fan" && m["value"] == true {
				fanState = true
			}
		}
		return fanState && len(acks["h1"]) > 0 && len(acks["h2"]) > 0
	})
	// A stray second ack would arrive right behind the first.
	onHub.CmdAck("lamp", false, "h3")
	for id, v := range collectAcks(onHub, "h3") {
		acks[id] = append(acks[id], v...)
	}
	wantAcks(t, "phone on the hub", acks, map[string]bool{"h1": true, "h2": false, "h3": true})
	if on, _ := garage.board.OutputLevel(gpio.Line{Offset: 27}); !on {
		t.Error("garage's fan is not on: the hub did not forward the command")
	}

	// One snapshot on each relay, the hub's, merged.
	for _, p := range []*linkedPhone{onPlain, onHub} {
		name := p.Name()
		p.BroadcastJSON(`{"msg_type":"control_sync_request","from":"` + name + `"}`)
		p.CmdAck("garage.pump", false, "s-"+name) // garage's ack comes after any snapshot it would send
		var snaps []map[string]any
		gotAck := false
		p.wait("the hub's snapshot", 15*time.Second, func(m map[string]any) bool {
			switch {
			case m["msg_type"] == "control_snapshot" && m["to"] == name:
				snaps = append(snaps, m["controls"].(map[string]any))
			case m["msg_type"] == "command_ack" && m["cmd_id"] == "s-"+name:
				gotAck = true
			}
			return gotAck && len(snaps) > 0
		})
		if len(snaps) != 1 {
			t.Errorf("%s: %d snapshots for one control_sync_request, want 1: %v", name, len(snaps), snaps)
			continue
		}
		if c := snaps[0]; c["garage.lamp"] != true || c["garage.fan"] != true || c["lamp"] != false {
			t.Errorf("%s: snapshot garage.lamp %v garage.fan %v lamp %v, want true true false", name, c["garage.lamp"], c["garage.fan"], c["lamp"])
		}
	}

	// garage leaves the plain relay: offline on the hub within seconds.
	if err := garage.stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	onHub.wait("garage's tab offline", 40*time.Second, func(map[string]any) bool {
		return hasControl(tabOf(onHub.layout, "garage"+layout.OfflineSuffix), "garage.lamp")
	})
	t.Logf("garage marked offline %v after it stopped", time.Since(stopped).Round(time.Millisecond))
}

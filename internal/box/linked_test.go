package box

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// linkedPhone is a phone on the hub that answers every apply-layout push
// like the app and keeps what it saw.
type linkedPhone struct {
	*phonetest.Phone
	t      *testing.T
	layout *layout.Layout // the last layout pushed
	hubbed bool           // a box_hub naming garage was seen
}

// wait reads frames until match (on a broadcast payload, or nil for an
// apply-layout) is true.
func (p *linkedPhone) wait(what string, d time.Duration, match func(m map[string]any) bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		f, err := p.Next(ctx)
		if err != nil {
			p.t.Fatalf("no %s within %v: %v", what, d, err)
		}
		var m map[string]any
		switch {
		case f.Type == "apply-layout" && f.ReplyTo == "":
			var l layout.Layout
			if err := json.Unmarshal(f.Payload, &l); err != nil {
				p.t.Fatalf("apply-layout: %v", err)
			}
			p.layout = &l
			if err := p.Reply(f, map[string]any{"ok": true}); err != nil {
				p.t.Fatal(err)
			}
		case f.Type == "broadcast":
			if json.Unmarshal(f.Payload, &m) != nil {
				continue
			}
			if m["msg_type"] == "box_hub" {
				boxes, _ := m["boxes"].([]any)
				p.hubbed = slices.Contains(boxes, any("garage"))
			}
		default:
			continue
		}
		if match(m) {
			return
		}
	}
}

// tabOf returns the tab titled title in l (nil if none).
func tabOf(l *layout.Layout, title string) *layout.Tab {
	if l == nil {
		return nil
	}
	for i := range l.Tabs {
		if l.Tabs[i].Title == title {
			return &l.Tabs[i]
		}
	}
	return nil
}

func hasControl(t *layout.Tab, id string) bool {
	return t != nil && slices.ContainsFunc(t.Children, func(c layout.Control) bool { return c.ID == id })
}

// layoutJSON fetches the hub's /layout.json with the member token.
func layoutJSONOf(t *testing.T, addr string) *layout.Layout {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/layout.json", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var l layout.Layout
	if res.StatusCode != 200 || json.Unmarshal(body, &l) != nil {
		t.Fatalf("/layout.json: %d %s", res.StatusCode, body)
	}
	return &l
}

// startHubAndGarage runs box hubbox and box garage linked upstream into
// it, both on the demo config.
func startHubAndGarage(t *testing.T) (hub, garage *testBox, logs *logtest.Tail) {
	t.Helper()
	logs = logtest.New(t)
	hubCfg := config.Demo()
	hubCfg.Name = "hubbox"
	hub = startBox(t, hubCfg, logs.Logger())
	garage = startBox(t, garageConfig(hub.url()), logs.Logger())
	return hub, garage, logs
}

func garageConfig(hubURL string) *config.Config {
	cfg := config.Demo()
	cfg.Name = "garage"
	cfg.Upstream = &config.Upstream{URL: hubURL, Token: testToken}
	return cfg
}

// TestLinkedBoxOnTheHub (issue #19): box garage links upstream into box
// hubbox, both real boxes on real loopback sockets. The hub's pushed
// layout and /layout.json get a "garage" tab with garage's controls; a
// phone on the hub gets exactly one truthful command_ack per _cmd and one
// control_snapshot (the hub's, holding garage's values: garage leaves
// snapshots to the hub after its box_hub); stopping garage marks its tab
// offline and its values null within seconds; restarting it restores them.
func TestLinkedBoxOnTheHub(t *testing.T) {
	hub, garage, logs := startHubAndGarage(t)
	ph := &linkedPhone{Phone: phonetest.Dial(t, hub.url(), phonetest.App("iPhone", testToken)), t: t}

	ph.wait("a pushed layout with garage's tab", 20*time.Second, func(map[string]any) bool {
		return hasControl(tabOf(ph.layout, "garage"), "garage.lamp")
	})
	if err := layout.ValidateLayout(ph.layout, nil); err != nil {
		t.Errorf("pushed merged layout: %v", err)
	}
	if tabOf(ph.layout, "Controls") == nil || !hasControl(tabOf(layoutJSONOf(t, hub.addr), "garage"), "garage.lamp") {
		t.Error("/layout.json or the pushed layout lost the hub's own tab or garage's")
	}
	ph.wait("box_hub naming garage", 20*time.Second, func(map[string]any) bool { return ph.hubbed })

	// One truthful ack per _cmd.
	ph.CmdAck("garage.lamp", true, "k1")
	ph.CmdAck("nobody.x", true, "k2")
	ph.CmdAck("lamp", false, "k3")
	ph.CmdAck("garage.fan", true, "k4") // garage's, after k1
	acks := map[string][]bool{}
	ph.wait("acks k3 and k4", 15*time.Second, func(m map[string]any) bool {
		if m["msg_type"] == "command_ack" {
			id, _ := m["cmd_id"].(string)
			ok, _ := m["ok"].(bool)
			acks[id] = append(acks[id], ok)
		}
		return len(acks["k3"]) > 0 && len(acks["k4"]) > 0
	})
	for id, ok := range map[string]bool{"k1": true, "k2": false, "k3": true, "k4": true} {
		if got := acks[id]; len(got) != 1 || got[0] != ok {
			t.Errorf("acks for %s = %v, want exactly one ok:%v", id, got, ok)
		}
	}
	if on, _ := garage.board.OutputLevel(gpio.Line{Offset: 17}); !on {
		t.Error("garage's lamp is not on")
	}

	// One snapshot, the hub's, with garage's values. garage's ack for k5
	// comes after any snapshot garage would have sent for the request.
	ph.BroadcastJSON(`{"msg_type":"control_sync_request","from":"iPhone"}`)
	ph.CmdAck("garage.fan", false, "k5")
	var snaps []map[string]any
	gotAck := false
	ph.wait("the hub's snapshot and garage's k5 ack", 15*time.Second, func(m map[string]any) bool {
		switch {
		case m["msg_type"] == "control_snapshot" && m["to"] == "iPhone":
			snaps = append(snaps, m["controls"].(map[string]any))
		case m["msg_type"] == "command_ack" && m["cmd_id"] == "k5":
			gotAck = true
		}
		return gotAck && len(snaps) > 0
	})
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots for one control_sync_request, want 1 (the hub's): %v", len(snaps), snaps)
	}
	if c := snaps[0]; c["lamp"] != false || c["garage.lamp"] != true {
		t.Errorf("hub snapshot: lamp %v garage.lamp %v, want false true", c["lamp"], c["garage.lamp"])
	}

	// garage stops: offline tab, null values.
	if err := garage.stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	ph.wait("garage's tab offline", 20*time.Second, func(map[string]any) bool {
		return hasControl(tabOf(ph.layout, "garage"+layout.OfflineSuffix), "garage.lamp")
	})
	t.Logf("garage marked offline %v after it stopped", time.Since(stopped).Round(time.Millisecond))
	ph.BroadcastJSON(`{"msg_type":"control_sync_request","from":"iPhone"}`)
	ph.wait("a snapshot with garage's values null", 10*time.Second, func(m map[string]any) bool {
		if m["msg_type"] != "control_snapshot" || m["to"] != "iPhone" {
			return false
		}
		c := m["controls"].(map[string]any)
		v, has := c["garage.lamp"]
		if !has || v != nil {
			t.Errorf("snapshot after garage stopped: garage.lamp = %v (present %v), want null", v, has)
		}
		return true
	})
	if tabOf(layoutJSONOf(t, hub.addr), "garage"+layout.OfflineSuffix) == nil {
		t.Error("/layout.json does not show garage offline")
	}

	// garage comes back (a fresh process: lamp off).
	startBox(t, garageConfig(hub.url()), logs.Logger())
	ph.wait("garage's tab back", 20*time.Second, func(map[string]any) bool {
		return hasControl(tabOf(ph.layout, "garage"), "garage.lamp")
	})
	ph.BroadcastJSON(`{"msg_type":"control_sync_request","from":"iPhone"}`)
	ph.wait("a snapshot with garage's values back", 10*time.Second, func(m map[string]any) bool {
		if m["msg_type"] != "control_snapshot" || m["to"] != "iPhone" {
			return false
		}
		return m["controls"].(map[string]any)["garage.lamp"] == false
	})
	if l := logs.Matching("linked box's tabs are refused"); len(l) > 0 || strings.Contains(logs.String(), "merged layout breaks") {
		t.Errorf("the hub refused garage's layout: %v", l)
	}
}

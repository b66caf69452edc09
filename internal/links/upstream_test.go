package links

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/meshsocket"
)

var (
	lampLine = gpio.Line{Offset: 17}
	fanLine  = gpio.Line{Offset: 27}
	pumpLine = gpio.Line{Offset: 22}
)

func level(t *testing.T, bx *box, l gpio.Line) bool {
	t.Helper()
	v, ok := bx.board.OutputLevel(l)
	if !ok {
		t.Fatalf("line %v not open", l)
	}
	return v
}

func fastUpstream(o *meshsocket.Options) {
	o.MinBackoff, o.MaxBackoff = 100*time.Millisecond, 400*time.Millisecond
}

// Box B joins box A's relay: a phone on A sees B's sensors and switches
// B's outputs by their prefixed ids; A's own identical ids are untouched.
func TestUpstreamTwoBoxes(t *testing.T) {
	a := startBox(t, fastDemo("boxa"))
	cfgB := fastDemo("boxb")
	cfgB.Upstream = &config.Upstream{URL: a.relay.url(), Token: testToken}
	b := startBox(t, cfgB)
	up, ok := UpstreamFromConfig(cfgB)
	if !ok || up.Name != "boxb" || up.Channel != "home" || up.Prefix != "boxb." {
		t.Fatalf("UpstreamFromConfig = %+v", up)
	}
	up.Client = fastUpstream
	stop, err := JoinUpstream(b.b, up, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	ph := dialPhone(t, a.relay.url(), "iPhone")
	local := dialPhone(t, b.relay.url(), "localPhone")
	start := time.Now()
	m := ph.wait("B's metrics on A", 10*time.Second, and(isMsg("metrics", "source", "boxb.climate"), has("boxb.climate_temperature")))
	t.Logf("first metrics of box B on A after %v: %v", time.Since(start).Round(time.Millisecond), m)
	ph.wait("A's own metrics", 5*time.Second, and(isMsg("metrics", "source", "climate"), has("climate_temperature")))

	// Switch B's lamp from A's phone: echo and ack come back, B's pin is high, A's is not.
	start = time.Now()
	ph.broadcast(`{"msg_type":"cmd","target":"boxb.lamp","value":true,"_cmd":"k1","_from":"iPhone"}`)
	ph.wait("boxb.lamp state", 5*time.Second, isMsg("state", "target", "boxb.lamp", "value", true))
	t.Logf("cmd on A -> state echo from B: %v", time.Since(start).Round(time.Microsecond))
	ph.wait("ack", 5*time.Second, isMsg("command_ack", "cmd_id", "k1", "to", "iPhone", "ok", true))
	local.wait("local lamp state on B", 5*time.Second, isMsg("state", "target", "lamp", "value", true))
	if !level(t, b, lampLine) {
		t.Error("box B's lamp pin is low after boxb.lamp on")
	}
	if level(t, a, lampLine) {
		t.Error("box A's lamp switched by a command for boxb.lamp")
	}

	// An unprefixed id on the shared channel is A's, not B's.
	ph.broadcast(`{"msg_type":"cmd","target":"fan","value":true}`)
	ph.wait("A's fan", 5*time.Second, isMsg("state", "target", "fan", "value", true))
	ph.broadcast(`{"msg_type":"command","command":"on","target":"boxb.pump"}`)
	ph.wait("B's pump", 5*time.Second, isMsg("state", "target", "boxb.pump", "value", true))
	if level(t, b, fanLine) || !level(t, a, fanLine) {
		t.Errorf("fan: A %v B %v, want only A's on", level(t, a, fanLine), level(t, b, fanLine))
	}
	if !level(t, b, pumpLine) || level(t, a, pumpLine) {
		t.Errorf("pump: A %v B %v, want only B's on", level(t, a, pumpLine), level(t, b, pumpLine))
	}

	// A late phone asks for a snapshot: B answers with its prefixed ids.
	ph.broadcast(`{"msg_type":"control_sync_request","from":"iPhone"}`)
	snap := ph.wait("B's snapshot", 5*time.Second, func(f map[string]any) bool {
		c, _ := f["controls"].(map[string]any)
		return f["msg_type"] == "control_snapshot" && c["boxb.lamp"] != nil
	})
	if c := snap["controls"].(map[string]any); c["boxb.lamp"] != true || c["boxb.pump"] != true || c["boxb.fan"] != false {
		t.Errorf("B's snapshot = %v", c)
	}
}

// Box A's relay restarts: B reconnects by itself and re-sends a snapshot
// without being asked.
func TestUpstreamReconnectResendsSnapshot(t *testing.T) {
	relayA := startRelay(t, "127.0.0.1:0")
	cfgB := fastDemo("boxb")
	cfgB.Upstream = &config.Upstream{URL: relayA.url(), Token: testToken}
	b := startBox(t, cfgB)
	up, _ := UpstreamFromConfig(cfgB)
	up.Client = fastUpstream
	var connects atomic.Int32
	inner := up.Client
	up.Client = func(o *meshsocket.Options) {
		inner(o)
		prev := o.OnConnect
		o.OnConnect = func(id string) { connects.Add(1); prev(id) }
	}
	stop, err := JoinUpstream(b.b, up, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ph := dialPhone(t, relayA.url(), "iPhone")
	ph.wait("B on A", 10*time.Second, isMsg("metrics", "source", "boxb.climate")) // B has joined
	ph.broadcast(`{"msg_type":"cmd","target":"boxb.lamp","value":true}`)
	ph.wait("boxb.lamp on", 10*time.Second, isMsg("state", "target", "boxb.lamp", "value", true))

	// Restart A on the same address. Until the phone is on the new relay,
	// B is kept out (its upgrade path is "/"), so the phone sees B's
	// unsolicited snapshot.
	addr := relayA.addr
	relayA.stop()
	restarted := time.Now()
	relayA2 := startRelay(t, addr)
	var open atomic.Bool
	relayA2.hs.Handler = gate(relayA2.srv, &open)
	ph2 := dialPhone(t, "ws://"+addr+"/phone", "iPhone2")
	open.Store(true)
	snap := ph2.wait("B's snapshot after reconnect", 10*time.Second, func(f map[string]any) bool {
		c, _ := f["controls"].(map[string]any)
		return f["msg_type"] == "control_snapshot" && f["to"] == nil && c["boxb.lamp"] != nil
	})
	t.Logf("snapshot from B %v after A's restart (%d admissions)", time.Since(restarted).Round(time.Millisecond), connects.Load())
	if c := snap["controls"].(map[string]any); c["boxb.lamp"] != true {
		t.Errorf("snapshot lamp = %v, want true", c["boxb.lamp"])
	}
	if n := connects.Load(); n < 2 {
		t.Errorf("admissions = %d, want a reconnect", n)
	}
	// Commands work again.
	ph2.broadcast(`{"msg_type":"cmd","target":"boxb.lamp","value":false}`)
	ph2.wait("boxb.lamp off", 5*time.Second, isMsg("state", "target", "boxb.lamp", "value", false))
	if level(t, b, lampLine) {
		t.Error("B's lamp still on")
	}
}

// gate refuses every upgrade but the phone's until open.
func gate(h http.Handler, open *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/phone" && !open.Load() {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func TestUpstreamFromConfigPrefix(t *testing.T) {
	cfg := &config.Config{Name: "garage", Channel: "home", Upstream: &config.Upstream{URL: "ws://relay.lan:8765"}}
	up, ok := UpstreamFromConfig(cfg)
	if !ok || up.Prefix != "garage." || up.Name != "garage" || up.Channel != "home" {
		t.Fatalf("UpstreamFromConfig = %+v, %v; want prefix garage., name garage, channel home", up, ok)
	}
	empty := ""
	cfg.Upstream.IDPrefix = &empty
	if up, _ := UpstreamFromConfig(cfg); up.Prefix != "" {
		t.Errorf("id_prefix: \"\" gave prefix %q, want plain ids", up.Prefix)
	}
	if _, ok := UpstreamFromConfig(&config.Config{}); ok {
		t.Error("no upstream section reported as configured")
	}
}

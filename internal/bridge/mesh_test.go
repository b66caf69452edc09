package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/wire"
)

const testToken = "s3cret-token"

// phone is a raw WebSocket client acting like the app.
type phone struct {
	t    testing.TB
	c    *websocket.Conn
	in   chan map[string]any // broadcast payloads
	done chan struct{}
}

func dialPhone(t testing.TB, url, name string) *phone {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	p := &phone{t: t, c: c, in: make(chan map[string]any, 4096), done: make(chan struct{})}
	p.send("identify", map[string]any{"name": name, "token": testToken, "channel": "home", "role": "controller", "can_broadcast": true})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for welcome: %v", err)
		}
		if f, _ := wire.Decode(msg); f.Type == "welcome" {
			break
		}
	}
	c.SetReadDeadline(time.Time{})
	go func() {
		defer close(p.done)
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			f, err := wire.Decode(msg)
			if err != nil || f.Type != "broadcast" {
				continue
			}
			var m map[string]any
			if json.Unmarshal(f.Payload, &m) == nil {
				p.in <- m
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-p.done })
	return p
}

func (p *phone) send(typ string, payload any) {
	raw, _ := json.Marshal(payload)
	if err := p.c.WriteMessage(websocket.TextMessage, wire.Encode(wire.Frame{ID: wire.NewID(), Type: typ, Payload: raw})); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *phone) broadcast(payload string) {
	if err := p.c.WriteMessage(websocket.TextMessage, wire.Encode(wire.Frame{ID: wire.NewID(), Type: "broadcast_request", Payload: json.RawMessage(payload)})); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *phone) wait(what string, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f := <-p.in:
			if match(f) {
				return f
			}
		case <-timeout:
			p.t.Fatalf("phone: timed out waiting for %s", what)
		}
	}
}

// meshRig is a relay on loopback with the bridge joined through the pipe.
type meshRig struct {
	b     *Bridge
	board *simhost.Board
	url   string
}

func startRig(t testing.TB, cfg *config.Config, rcfg relay.Config) *meshRig {
	t.Helper()
	board := simhost.New(simhost.Options{Seed: 2})
	b, err := New(cfg, board, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rcfg.AuthToken = testToken
	srv := relay.New(rcfg, nil)
	hs := httptest.NewServer(srv)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { b.Run(ctx); close(runDone) }()
	jctx, jcancel := context.WithTimeout(ctx, 5*time.Second)
	defer jcancel()
	mem, err := b.Join(jctx, JoinOptions{Token: testToken, Dial: func(ctx context.Context) (wire.Transport, error) { return srv.Pipe(ctx, "bridge") }})
	if err != nil {
		t.Fatal(err)
	}
	if !mem.Ready() {
		t.Fatal("bridge not admitted")
	}
	t.Cleanup(func() {
		cancel()
		<-runDone
		mem.Close()
		srv.Close(context.Background())
		hs.Close()
		b.Shutdown()
		board.Close()
	})
	return &meshRig{b: b, board: board, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/"}
}

func demoFast() *config.Config {
	cfg := config.Demo()
	for i := range cfg.Sensors {
		cfg.Sensors[i].Interval = 50 * time.Millisecond
	}
	return cfg
}

func TestJoinRelay(t *testing.T) {
	cfg := demoFast()
	rig := startRig(t, cfg, relay.Config{})
	ph := dialPhone(t, rig.url, "iPhone")
	// Metrics arrive.
	ph.wait("metrics", isMsg("metrics", "source", "climate"))
	ph.wait("metrics", isMsg("metrics", "source", "light"))
	// Late joiner: snapshot lists every control.
	ph.broadcast(`{"msg_type":"control_sync_request","from":"iPhone","dynamic":[]}`)
	snap := ph.wait("snapshot", isMsg("control_snapshot", "to", "iPhone"))
	ctrls := snap["controls"].(map[string]any)
	var missing []string
	for _, c := range Controls(cfg) {
		if v, ok := ctrls[c.ID]; !ok || v == nil {
			missing = append(missing, c.ID)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("snapshot lacks %v", missing)
	}
	// A cmd switches the lamp: state echo, then ack; the pin follows.
	ph.broadcast(`{"msg_type":"cmd","target":"lamp","value":"true","_cmd":"k1","_from":"iPhone"}`)
	if st := ph.wait("lamp state", isMsg("state", "target", "lamp")); st["value"] != true {
		t.Errorf("lamp state = %v", st)
	}
	ph.wait("ack", isMsg("command_ack", "cmd_id", "k1", "to", "iPhone", "ok", true))
	if lvl, ok := rig.board.OutputLevel(gpio.Line{Offset: 17}); !ok || !lvl {
		t.Errorf("lamp pin = %v %v, want high", lvl, ok)
	}
	// Routed: route_msg to the bridge by name is answered.
	ph.send("route_msg_noreply", map[string]any{"target_name": "meshbox", "type": "set_fan", "payload": map[string]any{"value": true}})
	if st := ph.wait("fan state", isMsg("state", "target", "fan")); st["value"] != true {
		t.Errorf("fan state = %v", st)
	}
}

// BenchmarkCommandRoundTrip measures phone cmd -> pin written -> state
// received by the phone, over a real loopback WebSocket and the relay.
func BenchmarkCommandRoundTrip(b *testing.B) {
	cfg := config.Demo()
	cfg.Sensors = nil // keep the channel quiet
	cfg.ActuationRate = 1e9
	rig := startRig(b, cfg, relay.Config{RateLimit: -1, PipeRateLimit: -1}) // a benchmark exceeds the frame rate limits
	ph := dialPhone(b, rig.url, "bench")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		val := i%2 == 0
		start := time.Now()
		ph.broadcast(`{"msg_type":"cmd","target":"lamp","value":` + map[bool]string{true: "true", false: "false"}[val] + `}`)
		ph.wait(fmt.Sprintf("state %d of %d", i, b.N), isMsg("state", "target", "lamp", "value", val))
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	if lvl, _ := rig.board.OutputLevel(gpio.Line{Offset: 17}); lvl != ((b.N-1)%2 == 0) {
		b.Errorf("lamp pin = %v after %d commands", lvl, b.N)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

package bridge

import (
	"context"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/wire"
)

const testToken = "s3cret-token"

// dialPhone joins url like the app, with the rig's token.
func dialPhone(t testing.TB, url, name string) *phonetest.Phone {
	t.Helper()
	return phonetest.Dial(t, url, phonetest.App(name, testToken))
}

// phoneWait is how long a phone waits for one broadcast.
const phoneWait = 5 * time.Second

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
	ph.ExpectBroadcast(phonetest.Msg("metrics", "source", "climate"), phoneWait)
	ph.ExpectBroadcast(phonetest.Msg("metrics", "source", "light"), phoneWait)
	// Late joiner: snapshot lists every control.
	ph.BroadcastJSON(`{"msg_type":"control_sync_request","from":"iPhone","dynamic":[]}`)
	snap := ph.ExpectBroadcast(phonetest.Msg("control_snapshot", "to", "iPhone"), phoneWait)
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
	ph.CmdAck("lamp", "true", "k1")
	if st := ph.ExpectState("lamp", phoneWait); st["value"] != true {
		t.Errorf("lamp state = %v", st)
	}
	ph.ExpectBroadcast(phonetest.Msg("command_ack", "cmd_id", "k1", "to", "iPhone", "ok", true), phoneWait)
	if lvl, ok := rig.board.OutputLevel(gpio.Line{Offset: 17}); !ok || !lvl {
		t.Errorf("lamp pin = %v %v, want high", lvl, ok)
	}
	// Routed: route_msg to the bridge by name is answered.
	ph.Send("route_msg_noreply", map[string]any{"target_name": "meshbox", "type": "set_fan", "payload": map[string]any{"value": true}})
	if st := ph.ExpectState("fan", phoneWait); st["value"] != true {
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
		ph.BroadcastJSON(`{"msg_type":"cmd","target":"lamp","value":` + map[bool]string{true: "true", false: "false"}[val] + `}`)
		ph.ExpectBroadcast(phonetest.Msg("state", "target", "lamp", "value", val), phoneWait)
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

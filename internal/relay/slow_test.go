package relay

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A subscriber that stops reading is reaped; everyone else keeps receiving
// every frame and the publisher is never blocked.
func TestSlowConsumerReaped(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = -1
	cfg.QueueSize = 32
	cfg.SendTimeout = 10 * time.Second // only the queue rule may fire, even on a loaded machine
	r := startRelay(t, cfg)
	mon := r.join(t, "mon", map[string]any{"can_monitor": true, "channel": "c", "role": "viewer"})
	slow := r.join(t, "slow", map[string]any{"channel": "c", "role": "viewer"})
	fast := r.join(t, "fast", map[string]any{"channel": "c", "role": "viewer"})
	pub := r.join(t, "pub", map[string]any{"channel": "c"})
	_ = slow // never reads again

	big := strings.Repeat("x", 32<<10)
	const n = 400
	got := make(chan int)
	step := make(chan struct{}, n)
	go func() {
		k := 0
		for k < n {
			_ = fast.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, msg, err := fast.ws.ReadMessage()
			if err != nil {
				break
			}
			if bytes.Contains(msg[:min(len(msg), 100)], []byte(`"type":"broadcast"`)) {
				k++
				step <- struct{}{}
			}
		}
		got <- k
	}()
	go func() { // drain the monitor
		for {
			_ = mon.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, _, err := mon.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for i := 0; i < n; i++ { // paced by the acks and the fast subscriber, so only the slow one lags
		pub.request("broadcast_request", map[string]any{"i": i, "pad": big}) // reads its echo and the ack
		select {
		case <-step:
		case <-time.After(10 * time.Second):
			t.Fatalf("fast subscriber stuck at %d", i)
		}
	}
	if k := <-got; k != n {
		t.Fatalf("fast subscriber got %d of %d", k, n)
	}
	r.waitMembers(t, 3)
	st := r.srv.Stats()
	if st.Reaped != 1 {
		t.Fatalf("stats %+v: want exactly the slow one reaped", st)
	}
}

package relay

import (
	"encoding/json"
	"testing"
	"time"
)

// TestWriterPingsBetweenBatches: keepalive pings written between batches
// (an iteration with a ping and no frames) must not leave the writer
// holding the array the queue appends into. With a 1 ms ping interval
// nearly every batch follows a ping-only iteration; every frame must
// arrive whole and in order (and -race sees no shared array).
func TestWriterPingsBetweenBatches(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = -1
	cfg.PingInterval = time.Millisecond
	cfg.PingTimeout = 30 * time.Second
	r := startRelay(t, cfg)
	sub := r.join(t, "sub", map[string]any{"channel": "c"})
	pub := r.join(t, "pub", map[string]any{"channel": "c"})
	const n = 400
	done := make(chan error, 1)
	go func() {
		next := 0
		for next < n {
			f, err := sub.recv(20 * time.Second)
			if err != nil {
				done <- err
				return
			}
			if f.Type != "broadcast" {
				continue
			}
			var p struct{ I int }
			if err := json.Unmarshal(f.Payload, &p); err != nil {
				t.Errorf("frame %d: payload %s: %v", next, f.Payload, err)
			} else if p.I != next {
				t.Errorf("frame %d: got i=%d", next, p.I)
			}
			next++
		}
		done <- nil
	}()
	for i := 0; i < n; i++ {
		pub.send("broadcast_request", map[string]any{"i": i})
		if i%20 == 0 {
			time.Sleep(2 * time.Millisecond) // let pings in between batches
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

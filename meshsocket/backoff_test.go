package meshsocket

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
)

func TestBackoffSequence(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    float64
		want []time.Duration
	}{
		{"low jitter", 0, []time.Duration{1600, 3200, 6400, 12800, 24000, 24000}},
		{"no jitter", 0.5, []time.Duration{2000, 4000, 8000, 16000, 30000, 30000}},
		{"high jitter capped", 0.999999, []time.Duration{2400, 4800, 9600, 19200, 30000, 30000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackoff(2*time.Second, 30*time.Second)
			b.rand = func() float64 { return tc.r }
			for i, w := range tc.want {
				if got := b.next().Round(time.Millisecond); got != w*time.Millisecond {
					t.Fatalf("delay %d = %v; want %v", i, got, w*time.Millisecond)
				}
			}
			b.reset()
			if got := b.next().Round(time.Millisecond); got != tc.want[0]*time.Millisecond {
				t.Fatalf("after reset = %v", got)
			}
		})
	}
}

// attemptTimes runs a client whose dial is dial for span of fake time and
// returns the (fake) time of every dial.
func attemptTimes(t *testing.T, span time.Duration, dial func() (wire.Transport, error)) []time.Duration {
	var mu sync.Mutex
	var times []time.Duration
	start := time.Now()
	c, err := New(Options{
		Name: "backoff",
		Dial: func(context.Context) (wire.Transport, error) {
			mu.Lock()
			times = append(times, time.Since(start))
			mu.Unlock()
			return dial()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	time.Sleep(span)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after Close = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]time.Duration(nil), times...)
}

// TestReconnectBackoffTiming measures the supervisor's real delays in a
// synctest bubble (fake clock): 2 s doubling to 30 s, ±20 % jitter.
func TestReconnectBackoffTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		times := attemptTimes(t, 200*time.Second, func() (wire.Transport, error) {
			return nil, errors.New("connection refused")
		})
		if len(times) < 8 {
			t.Fatalf("only %d attempts in 200 s: %v", len(times), times)
		}
		if times[0] != 0 {
			t.Fatalf("first attempt at %v; want immediately", times[0])
		}
		base := 2 * time.Second
		jittered := false
		for i := 1; i < len(times); i++ {
			gap := times[i] - times[i-1]
			lo, hi := base*8/10, min(base*12/10, 30*time.Second)
			if gap < lo || gap > hi {
				t.Fatalf("gap %d = %v; want in [%v, %v] (all: %v)", i, gap, lo, hi, times)
			}
			if gap != base {
				jittered = true
			}
			base = min(base*2, 30*time.Second)
		}
		if !jittered {
			t.Fatal("no jitter in the delays")
		}
	})
}

// TestBackoffResetsWhenTransportOpens: a relay that accepts the socket but
// refuses identify is redialled every ~2 s (the Python client's reset), and
// WaitReady reports the refusal.
func TestBackoffResetsWhenTransportOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var wg sync.WaitGroup
		times := attemptTimes(t, 20*time.Second, func() (wire.Transport, error) {
			cli, rel := newMemPair()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = rel.ReadMessage(context.Background()) // identify
				rel.closeWith(&wire.CloseError{Code: 1008, Reason: "unauthorized"})
			}()
			return cli, nil
		})
		wg.Wait()
		if len(times) < 7 {
			t.Fatalf("%d attempts in 20 s; want a redial about every 2 s: %v", len(times), times)
		}
		for i := 1; i < len(times); i++ {
			if gap := times[i] - times[i-1]; gap < 1600*time.Millisecond || gap > 2400*time.Millisecond {
				t.Fatalf("gap %d = %v; want 2 s ± 20 %%", i, gap)
			}
		}
	})
}

func TestWaitReadyReportsRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := New(Options{Name: "w", WelcomeTimeout: 3 * time.Second, Dial: func(context.Context) (wire.Transport, error) {
			cli, rel := newMemPair()
			go func() { _, _ = rel.ReadMessage(context.Background()) }() // reads identify, never welcomes
			return cli, nil
		}})
		defer c.Close()
		start := time.Now()
		err := c.Start(context.Background())
		if !isRefused(err) || time.Since(start) != 3*time.Second {
			t.Fatalf("Start = %v after %v; want refused after the 3 s welcome timeout", err, time.Since(start))
		}
	})
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"
)

// stats shared by the subscribers and the publisher.
type loadStats struct {
	delivered atomic.Int64
	gaps      atomic.Int64 // out-of-order or skipped seq seen by a subscriber
	waiting   atomic.Bool
	notify    chan struct{}
}

// subscriber counts load broadcasts and samples latencies.
type subscriber struct {
	m       *member
	sampleN int64
	lat     []int64 // ns
	got     int64
	count   atomic.Int64 // load frames received (read by the publisher)
	dead    atomic.Bool  // connection ended
}

func (s *subscriber) run(st *loadStats) {
	defer s.dead.Store(true)
	buf := make([]byte, 0, 512)
	next := int64(0)
	for {
		msg, err := s.m.readInto(buf)
		if err != nil {
			return
		}
		buf = msg
		seq, ts, ok := parseLoad(msg)
		if !ok {
			continue
		}
		if seq != next {
			st.gaps.Add(1)
		}
		next = seq + 1
		s.got++
		s.count.Store(s.got)
		if s.got%s.sampleN == 0 {
			s.lat = append(s.lat, time.Now().UnixNano()-ts)
		}
		st.delivered.Add(1)
		if st.waiting.Load() {
			select {
			case st.notify <- struct{}{}:
			default:
			}
		}
	}
}

// fanResult is one fan-out or latency run.
type fanResult struct {
	perSec   float64 // deliveries/s
	lost     int64
	p50, p99 time.Duration
}

func fanout(ctx context.Context, o options, out io.Writer, fixedRate bool) error {
	_, err := runFanout(ctx, o, out, fixedRate)
	return err
}

func runFanout(ctx context.Context, o options, out io.Writer, fixedRate bool) (fanResult, error) {
	if o.subs < 1 {
		return fanResult{}, fmt.Errorf("-subs must be ≥ 1")
	}
	st := &loadStats{notify: make(chan struct{}, 1)}
	sample := int64(16)
	if fixedRate {
		sample = 1
	}
	subs := make([]*subscriber, o.subs)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.conc)
	for i := range subs {
		g.Go(func() error {
			m, err := join(gctx, o.url, o.token, fmt.Sprintf("load-sub-%d", i), o.channel, "viewer", nil)
			if err != nil {
				return err
			}
			subs[i] = &subscriber{m: m, sampleN: sample}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		for _, s := range subs {
			if s != nil {
				s.m.ws.Close()
			}
		}
		return fanResult{}, fmt.Errorf("subscribers: %w", err)
	}
	pub, err := join(ctx, o.url, o.token, "load-pub", o.channel, "node", map[string]any{"can_broadcast": true, "broadcast_scope": "channel"})
	if err != nil {
		return fanResult{}, fmt.Errorf("publisher: %w", err)
	}
	fmt.Fprintf(out, "%d subscribers + 1 publisher joined in %v\n", o.subs, time.Since(start).Round(time.Millisecond))

	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		go func() { defer wg.Done(); s.run(st) }()
	}
	var acks atomic.Int64
	pubSelf := &subscriber{}
	go func() { // the publisher's own echoes and acks
		buf := make([]byte, 0, 512)
		for {
			msg, err := pub.readInto(buf)
			if err != nil {
				return
			}
			buf = msg
			if bytes.HasPrefix(valueAfter(msg[:min(len(msg), 96)], `"type"`), []byte(`"broadcast_request"`)) {
				acks.Add(1)
				// The publisher is in the window too: it reads an ack and its
				// own echo per frame, and a relay reaps a publisher that
				// falls a queue behind (slow consumer), like anyone else.
				pubSelf.count.Store(acks.Load())
				if st.waiting.Load() {
					select {
					case st.notify <- struct{}{}:
					default:
					}
				}
			}
		}
	}()

	pad := strings.Repeat("x", o.size)
	n := int64(o.subs)
	frame := make([]byte, 0, 256+o.size)
	var sent int64
	var tick *time.Ticker
	if fixedRate {
		tick = time.NewTicker(time.Second / time.Duration(max(o.rate, 1)))
		defer tick.Stop()
	}
	windowed := append(subs[:len(subs):len(subs)], pubSelf)
	t0 := time.Now()
	deadline := t0.Add(o.duration)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if fixedRate {
			<-tick.C
		} else if !waitWindow(windowed, st, sent-int64(o.window), deadline) {
			break
		}
		frame = frame[:0]
		frame = append(frame, `{"id":"p`...)
		frame = strconv.AppendInt(frame, sent, 10)
		frame = append(frame, `","type":"broadcast_request","payload":{"msg_type":"load","seq":`...)
		frame = strconv.AppendInt(frame, sent, 10)
		frame = append(frame, `,"ts":`...)
		frame = strconv.AppendInt(frame, time.Now().UnixNano(), 10)
		frame = append(frame, `,"pad":"`...)
		frame = append(frame, pad...)
		frame = append(frame, `"},"reply_to":null}`...)
		if err := pub.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			return fanResult{}, fmt.Errorf("publish: %w", err)
		}
		sent++
	}
	pubEnd := time.Now()
	// Drain: wait until everything arrived or nothing moves for 2 s.
	want := sent * n
	last, lastChange := st.delivered.Load(), time.Now()
	for st.delivered.Load() < want && time.Since(lastChange) < 2*time.Second {
		time.Sleep(5 * time.Millisecond)
		if d := st.delivered.Load(); d != last {
			last, lastChange = d, time.Now()
		}
	}
	end := time.Now()
	if st.delivered.Load() >= want {
		end = lastChange
	}
	got := st.delivered.Load()
	pub.ws.Close()
	for _, s := range subs {
		s.m.ws.Close()
	}
	wg.Wait()

	var lat []int64
	for _, s := range subs {
		lat = append(lat, s.lat...)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return time.Duration(lat[min(len(lat)-1, int(p*float64(len(lat))))])
	}
	el := end.Sub(t0).Seconds()
	mode := "fanout"
	if fixedRate {
		mode = fmt.Sprintf("latency (%d frames/s)", o.rate)
	}
	fmt.Fprintf(out, "mode %s: published %d frames in %.2fs (%.0f frames/s), payload %d B, window %d\n",
		mode, sent, pubEnd.Sub(t0).Seconds(), float64(sent)/pubEnd.Sub(t0).Seconds(), o.size, o.window)
	fmt.Fprintf(out, "deliveries: %d of %d (loss %d, %.4f%%), out-of-order/gaps %d, acks %d\n",
		got, want, want-got, 100*float64(want-got)/float64(max(want, 1)), st.gaps.Load(), acks.Load())
	fmt.Fprintf(out, "throughput: %.0f deliveries/s to %d subscribers\n", float64(got)/el, o.subs)
	fmt.Fprintf(out, "latency (%d samples): p50 %v  p90 %v  p99 %v  max %v\n", len(lat),
		pct(0.50).Round(time.Microsecond), pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	res := fanResult{perSec: float64(got) / el, lost: want - got, p50: pct(0.50), p99: pct(0.99)}
	if want != got {
		return res, fmt.Errorf("lost %d deliveries", want-got)
	}
	return res, nil
}

// waitWindow blocks until every live subscriber has received at least
// floor frames (the per-subscriber window), or the deadline passes.
func waitWindow(subs []*subscriber, st *loadStats, floor int64, deadline time.Time) bool {
	lagging := func() bool {
		for _, s := range subs {
			if !s.dead.Load() && s.count.Load() < floor {
				return true
			}
		}
		return false
	}
	for lagging() {
		if time.Now().After(deadline) {
			return false
		}
		st.waiting.Store(true)
		if lagging() {
			select {
			case <-st.notify:
			case <-time.After(20 * time.Millisecond):
			}
		}
		st.waiting.Store(false)
	}
	return true
}

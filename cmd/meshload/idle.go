package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"
)

// idle connects o.n phone-like members (role controller), holds them for
// o.duration while they answer keepalive pings, checks each still answers a
// JSON ping, and reports the relay process's RSS.
func idle(ctx context.Context, o options, out io.Writer) error {
	start := time.Now()
	before, _ := rss(o.pid)
	ms := make([]*member, o.n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.conc)
	for i := range ms {
		g.Go(func() error {
			m, err := join(gctx, o.url, o.token, fmt.Sprintf("phone-%d", i), o.channel, "controller",
				map[string]any{"can_broadcast": true, "can_route": false, "can_monitor": false})
			ms[i] = m
			return err
		})
	}
	err := g.Wait()
	defer func() {
		for _, m := range ms {
			if m != nil {
				m.ws.Close()
			}
		}
	}()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	fmt.Fprintf(out, "%d idle members joined in %v\n", o.n, time.Since(start).Round(time.Millisecond))
	var pongs atomic.Int64
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() { // reading answers the relay's keepalive pings
			defer wg.Done()
			for {
				_, msg, err := m.ws.ReadMessage()
				if err != nil {
					return
				}
				var f struct {
					Type    string `json:"type"`
					ReplyTo string `json:"reply_to"`
				}
				if json.Unmarshal(msg, &f) == nil && f.Type == "ping" && f.ReplyTo != "" {
					pongs.Add(1)
				}
			}
		}()
	}
	select {
	case <-time.After(o.duration):
	case <-ctx.Done():
	}
	after, err := rss(o.pid)
	if o.pid > 0 && o.spawn {
		_ = syscall.Kill(o.pid, syscall.SIGUSR1) // our child: print its memory breakdown
		time.Sleep(time.Second)
	}
	for i, m := range ms {
		_ = m.ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"id":"ping-%d","type":"ping","payload":null,"reply_to":null}`, i)))
	}
	deadline := time.Now().Add(10 * time.Second)
	for pongs.Load() < int64(o.n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	who := "this process (embedded relay + clients)"
	if o.pid > 0 {
		who = fmt.Sprintf("relay pid %d", o.pid)
	}
	if err == nil {
		fmt.Fprintf(out, "RSS of %s: %.1f MB with %d idle members (%.1f MB before they joined)\n", who, float64(after)/1024, o.n, float64(before)/1024)
	}
	fmt.Fprintf(out, "alive after %v: %d of %d answered a ping\n", o.duration, pongs.Load(), o.n)
	for _, m := range ms {
		m.ws.Close()
	}
	wg.Wait()
	if pongs.Load() != int64(o.n) {
		return fmt.Errorf("%d members did not answer", int64(o.n)-pongs.Load())
	}
	return nil
}

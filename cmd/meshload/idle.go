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

// idleMember is one idle phone: a gorilla client or a Python-websockets-like one.
type idleMember interface {
	sendText([]byte) error
	serve(onText func([]byte)) // until the connection ends
	close()
}

type goMember struct{ *member }

func (m goMember) sendText(b []byte) error { return m.ws.WriteMessage(websocket.TextMessage, b) }
func (m goMember) close()                  { m.ws.Close() }
func (m goMember) serve(onText func([]byte)) {
	for { // reading answers the relay's keepalive pings
		_, msg, err := m.ws.ReadMessage()
		if err != nil {
			return
		}
		onText(msg)
	}
}

// idle connects o.n phone-like members (role controller), o.conc at a time,
// holds them for o.duration while they answer keepalive pings, checks each
// still answers a JSON ping, and reports the relay process's RSS. With
// -client python the members join and keep alive like the reference Python
// client over websockets 10.4 (pyclient.go).
func idle(ctx context.Context, o options, out io.Writer) error {
	start := time.Now()
	before, _ := rss(o.pid)
	ms := make([]idleMember, o.n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.conc)
	for i := range ms {
		g.Go(func() error {
			name := fmt.Sprintf("phone-%d", i)
			if o.client == "python" {
				m, err := pyJoin(gctx, o.url, o.token, name, o.channel)
				if err == nil {
					ms[i] = m
				}
				return err
			}
			m, err := join(gctx, o.url, o.token, name, o.channel, "controller",
				map[string]any{"can_broadcast": true, "can_route": false, "can_monitor": false})
			if err == nil {
				ms[i] = goMember{m}
			}
			return err
		})
	}
	err := g.Wait()
	defer func() {
		for _, m := range ms {
			if m != nil {
				m.close()
			}
		}
	}()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	fmt.Fprintf(out, "%d idle members (%s client, %d at a time) joined in %v\n", o.n, o.client, o.conc, time.Since(start).Round(time.Millisecond))
	var pongs atomic.Int64
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.serve(func(msg []byte) {
				var f struct {
					Type    string `json:"type"`
					ReplyTo string `json:"reply_to"`
				}
				if json.Unmarshal(msg, &f) == nil && f.Type == "ping" && f.ReplyTo != "" {
					pongs.Add(1)
				}
			})
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
		_ = m.sendText([]byte(fmt.Sprintf(`{"id":"ping-%d","type":"ping","payload":null,"reply_to":null}`, i)))
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
		m.close()
	}
	wg.Wait()
	if pongs.Load() != int64(o.n) {
		return fmt.Errorf("%d members did not answer", int64(o.n)-pongs.Load())
	}
	return nil
}

package relay

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkBroadcastFanout: one publisher, N subscribers on one channel,
// real loopback WebSockets. One op is one broadcast_request; the
// deliveries/s metric counts frames received by the subscribers. The
// publisher keeps at most 64 frames per subscriber in flight, so a run with
// no reaping has zero loss.
//
//	go test -run XXX -bench BroadcastFanout -benchtime 3s ./internal/relay/
func BenchmarkBroadcastFanout(b *testing.B) {
	for _, subs := range []int{10, 100} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) { benchFanout(b, subs) })
	}
}

func benchFanout(b *testing.B, nsubs int) {
	cfg := Config{RateLimit: -1, MaxPendingPerIP: -1}
	srv := New(cfg, nil)
	r := startRelayB(b, srv)
	var delivered atomic.Int64
	counts := make([]atomic.Int64, nsubs) // per subscriber: the window is per subscriber
	notify := make(chan struct{}, 1)
	var wg sync.WaitGroup
	var conns []*websocket.Conn
	for i := 0; i < nsubs; i++ {
		ws := joinB(b, r, fmt.Sprintf("sub-%d", i), "viewer")
		cnt := &counts[i]
		conns = append(conns, ws)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, rd, err := ws.NextReader()
				if err != nil {
					return
				}
				var buf [512]byte
				n, _ := io.ReadFull(rd, buf[:80]) // a first Read may return less
				if bytes.Contains(buf[:n], []byte(`"type":"broadcast"`)) {
					delivered.Add(1)
					cnt.Add(1)
					select {
					case notify <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	pub := joinB(b, r, "pub", "node")
	conns = append(conns, pub)
	go func() {
		for {
			if _, _, err := pub.NextReader(); err != nil {
				return
			}
		}
	}()
	const window = 64
	n := int64(nsubs)
	lagging := func(floor int64) bool {
		for i := range counts {
			if counts[i].Load() < floor {
				return true
			}
		}
		return false
	}
	frame := []byte(`{"id":"p","type":"broadcast_request","payload":{"msg_type":"metrics","seq":`)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for lagging(int64(i) - window) {
			select {
			case <-notify:
			case <-time.After(10 * time.Millisecond):
			}
		}
		msg := strconv.AppendInt(frame[:len(frame):len(frame)], int64(i), 10)
		msg = append(msg, `,"temp":21.5},"reply_to":null}`...)
		if err := pub.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N) * n
	deadline := time.Now().Add(30 * time.Second)
	for delivered.Load() < want && time.Now().Before(deadline) {
		select {
		case <-notify:
		case <-time.After(10 * time.Millisecond):
		}
	}
	el := time.Since(start)
	b.StopTimer()
	if got := delivered.Load(); got != want {
		b.Fatalf("delivered %d of %d", got, want)
	}
	b.ReportMetric(float64(want)/el.Seconds(), "deliveries/s")
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
}

func startRelayB(b *testing.B, srv *Server) string {
	tr := &testRelay{srv: srv}
	hs := newHTTPTestServer(srv)
	b.Cleanup(func() {
		_ = srv.Close(b.Context())
		hs.Close()
	})
	tr.url = "ws" + hs.URL[len("http"):]
	return tr.url
}

func joinB(b *testing.B, url, name, role string) *websocket.Conn {
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	msg := fmt.Sprintf(`{"id":"i","type":"identify","payload":{"name":%q,"role":%q,"channel":"bench"}}`, name, role)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		b.Fatal(err)
	}
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if bytes.Contains(m, []byte(`"type":"welcome"`)) {
			return ws
		}
	}
}

// BenchmarkIdleMembers: the memory an identified idle member costs the
// relay (heap and goroutine stacks in use, after a GC), with 500 members
// joined over loopback by raw clients that keep only their socket (their
// own cost, a net.Conn, is included and small). One op is one run.
//
//	go test -run XXX -bench IdleMembers -benchtime 1x ./internal/relay/
func BenchmarkIdleMembers(b *testing.B) {
	const n = 500
	for i := 0; i < b.N; i++ {
		srv := New(Config{RateLimit: -1, MaxPendingPerIP: -1}, nil)
		hs := newHTTPTestServer(srv)
		addr := hs.Listener.Addr().String()
		before := inUse()
		conns := make([]net.Conn, 0, n)
		buf := make([]byte, 4096)
		for j := 0; j < n; j++ {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
			id := fmt.Sprintf(`{"id":"i","type":"identify","payload":{"name":"idle-%d","channel":"bench"},"reply_to":null}`, j)
			frame := append([]byte{0x81, 0x80 | byte(len(id)), 0, 0, 0, 0}, id...) // zero mask
			_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := nc.Write([]byte(req)); err != nil {
				b.Fatal(err)
			}
			var got []byte
			for !bytes.Contains(got, []byte("\r\n\r\n")) { // the 101 (gorilla refuses data before it)
				k, err := nc.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got = append(got, buf[:k]...)
			}
			if _, err := nc.Write(frame); err != nil {
				b.Fatal(err)
			}
			for !bytes.Contains(got, []byte(`"welcome"`)) {
				_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				k, err := nc.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got = append(got, buf[:k]...)
			}
			conns = append(conns, nc)
		}
		for srv.Stats().Members != n {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(2 * writerLinger) // idle writers exit
		after := inUse()
		b.ReportMetric(float64(after-before)/n, "B/member")
		for _, c := range conns {
			c.Close()
		}
		_ = srv.Close(b.Context())
		hs.Close()
	}
}

func inUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

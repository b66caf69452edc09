package mqtttest

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Gate is a loopback TCP forwarder in front of a broker: a client that
// connects through it can be cut off and kept off (Close) while the test
// prepares the broker, then let back in (Open) — a deterministic
// "network outage" for one client only.
type Gate struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	open  bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewGate forwards a loopback port to b; it starts open and stops with
// the test.
func NewGate(t testing.TB, b *Broker) *Gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{ln: ln, target: b.Addr(), open: true, conns: map[net.Conn]bool{}}
	g.wg.Add(1)
	go g.accept()
	t.Cleanup(func() {
		ln.Close()
		g.Close()
		g.wg.Wait()
	})
	return g
}

// URL is mqtt://<the gate's address>.
func (g *Gate) URL() *url.URL {
	return &url.URL{Scheme: "mqtt", Host: g.ln.Addr().String()}
}

// Close drops every forwarded connection and refuses new ones until Open.
func (g *Gate) Close() {
	g.mu.Lock()
	g.open = false
	conns := g.conns
	g.conns = map[net.Conn]bool{}
	g.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// Open lets connections through again.
func (g *Gate) Open() {
	g.mu.Lock()
	g.open = true
	g.mu.Unlock()
}

func (g *Gate) accept() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		open := g.open
		g.mu.Unlock()
		if !open {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			continue
		}
		g.mu.Lock()
		if !g.open { // closed meanwhile
			g.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		g.conns[c], g.conns[up] = true, true
		g.mu.Unlock()
		g.wg.Add(2)
		go g.pipe(c, up)
		go g.pipe(up, c)
	}
}

// pipe copies src to dst; when either side ends, both are closed.
func (g *Gate) pipe(dst, src net.Conn) {
	defer g.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// String names the gate for test logs.
func (g *Gate) String() string { return fmt.Sprintf("gate %s -> %s", g.ln.Addr(), g.target) }

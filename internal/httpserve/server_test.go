package httpserve

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// start serves h with o on a loopback port.
func start(t *testing.T, h http.Handler, o Options) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(h, o)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return s, ln.Addr().String()
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	fmt.Fprintln(w, "hello")
})

// keepAlive opens a connection and makes one keep-alive request on it.
func keepAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: box\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("keep-alive request: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("reply %d close=%v", resp.StatusCode, resp.Close)
	}
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closedByServer reports whether the server closed c (EOF or reset on read).
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestIdleKeepAliveFlood is finding 6: 3,000 idle keep-alive connections
// were all held (for ever, +49 MB). Now at most MaxConns stay open; the
// oldest idle ones are closed to make room, and the box still answers.
func TestIdleKeepAliveFlood(t *testing.T) {
	const flood = 3000
	s, addr := start(t, hello, Options{})
	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range flood {
		conns = append(conns, keepAlive(t, addr))
	}
	waitFor(t, "the server to hold at most MaxConns", func() bool { return s.Stats().Open <= DefaultMaxConns })
	st := s.Stats()
	if st.Evicted < flood-DefaultMaxConns {
		t.Errorf("evicted %d idle connections, want at least %d: %+v", st.Evicted, flood-DefaultMaxConns, st)
	}
	// The first connections were the oldest idle: closed by the server.
	closed := 0
	for _, c := range conns[:100] {
		if closedByServer(c) {
			closed++
		}
	}
	if closed != 100 {
		t.Errorf("%d of the 100 oldest idle connections were closed by the server, want all", closed)
	}
	// The newest is still usable, and a new client gets in.
	last := conns[len(conns)-1]
	if _, err := io.WriteString(last, "GET / HTTP/1.1\r\nHost: box\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	last.SetReadDeadline(time.Now().Add(15 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(last), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the newest keep-alive connection no longer works: %v", err)
	}
	conns = append(conns, keepAlive(t, addr))
	t.Logf("after %d idle keep-alive connections: %+v", flood, s.Stats())
}

// TestBusyConnectionsRefuseNewcomers: when every slot is mid-request
// (none idle), a further connection is closed at once.
func TestBusyConnectionsRefuseNewcomers(t *testing.T) {
	s, addr := start(t, hello, Options{MaxConns: 2})
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: box\r\nContent-Length: 100\r\n\r\npartial")
	}
	waitFor(t, "two active connections", func() bool { st := s.Stats(); return st.Open == 2 && st.Idle == 0 })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "the third connection to be closed", func() bool { return closedByServer(c) })
	if st := s.Stats(); st.Refused != 1 || st.Open != 2 {
		t.Fatalf("stats %+v, want 1 refused, 2 open", st)
	}
}

// TestTimeouts: plain HTTP has read and idle timeouts; a WebSocket on the
// same server keeps working past them and does not count as a connection.
func TestTimeouts(t *testing.T) {
	if s := New(hello, Options{IdleTimeout: time.Hour}); s.HTTP().IdleTimeout != DefaultIdleTimeout {
		t.Fatalf("IdleTimeout %s: not capped at %s", s.HTTP().IdleTimeout, DefaultIdleTimeout)
	}
	d := New(hello, Options{}).HTTP()
	if d.ReadTimeout <= 0 || d.WriteTimeout <= 0 || d.ReadHeaderTimeout <= 0 || d.IdleTimeout > 60*time.Second {
		t.Fatalf("defaults: read %s write %s header %s idle %s", d.ReadTimeout, d.WriteTimeout, d.ReadHeaderTimeout, d.IdleTimeout)
	}

	const short = 300 * time.Millisecond
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.Handle("/", hello)
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			mt, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if ws.WriteMessage(mt, b) != nil {
				return
			}
		}
	})
	s, addr := start(t, mux, Options{ReadTimeout: short, WriteTimeout: short, IdleTimeout: short, MaxConns: 1})

	// A body that never comes is cut off by ReadTimeout.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "POST / HTTP/1.1\r\nHost: box\r\nContent-Length: 10\r\n\r\n1")
	waitFor(t, "a stalled upload to be cut off", func() bool { return closedByServer(slow) })
	waitFor(t, "the slot to be free", func() bool { return s.Stats().Open == 0 })

	// An idle keep-alive connection is closed after IdleTimeout.
	idle := keepAlive(t, addr)
	defer idle.Close()
	waitFor(t, "an idle connection to be closed", func() bool { return closedByServer(idle) })
	waitFor(t, "the slot to be free", func() bool { return s.Stats().Open == 0 })

	// WebSockets: more of them than MaxConns, alive well past every timeout.
	var wss []*websocket.Conn
	for i := range 3 {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
		if err != nil {
			t.Fatalf("websocket %d: %v", i, err)
		}
		defer ws.Close()
		wss = append(wss, ws)
	}
	waitFor(t, "the upgrades to leave the accounting", func() bool { st := s.Stats(); return st.Hijacked == 3 && st.Open == 0 })
	time.Sleep(3 * short) // past the read, write and idle timeouts
	for i, ws := range wss {
		ws.SetReadDeadline(time.Now().Add(15 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
			t.Fatalf("websocket %d write after the HTTP timeouts: %v", i, err)
		}
		if _, b, err := ws.ReadMessage(); err != nil || string(b) != "ping" {
			t.Fatalf("websocket %d echo after the HTTP timeouts: %q %v", i, b, err)
		}
	}
	// And plain HTTP still gets its slot.
	c := keepAlive(t, addr)
	c.Close()
	if st := s.Stats(); st.Refused != 0 {
		t.Fatalf("stats %+v: a connection was refused", st)
	}
}

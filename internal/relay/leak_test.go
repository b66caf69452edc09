package relay

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Close leaves no goroutine behind: every reader, writer and pipe is done.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := New(testConfig(), nil)
	hs := httptest.NewServer(srv)
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	r := &testRelay{srv: srv, url: url}
	var conns []*websocket.Conn
	for i := 0; i < 5; i++ {
		c := r.join(t, "leak-"+string(rune('a'+i)), nil)
		conns = append(conns, c.ws)
	}
	pending := r.dial(t, "/", nil) // never identifies
	conns = append(conns, pending.ws)
	p, err := srv.Pipe(context.Background(), "pipe")
	if err != nil {
		t.Fatal(err)
	}
	_ = p.WriteMessage(context.Background(), []byte(`{"type":"identify","payload":{"name":"pipe","token":"tok"}}`))
	// a route left pending on a member
	a := &client{t: t, ws: conns[0]}
	a.send("route_msg", map[string]any{"target_name": "leak-b", "type": "q"})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { // clients answer the close handshake
		for _, c := range conns {
			go func() {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p.Close()
	hs.Close()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after Close\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// minimalRelay is the comparison point of -compare: the least a MeshSocket
// relay must do for the fan-out load, written as plainly as gorilla allows.
// identify → welcome; broadcast_request → a broadcast to the sender's
// channel (the sender included; every copy with its own id) and a
// {"status":"sent"} reply. One reader and one writer goroutine per
// connection; a broadcast is encoded once and its copies share the bytes,
// the writer writing each copy's id while it frames the batch into one
// buffer sent with one write system call (the same technique as meshbox,
// so the comparison is with the best plain relay, not a naive one). No
// auth, limits, roster, routing or keepalive.
type minimalRelay struct {
	up websocket.Upgrader

	mu     sync.RWMutex
	byChan map[string][]*minConn
	ctr    atomic.Uint64
}

type minConn struct {
	r    *minimalRelay
	ws   *websocket.Conn
	nc   net.Conn
	mu   sync.Mutex
	q    []minMsg
	wake chan struct{}
}

// minMsg is a queued frame; shared copies get their id written at b[7:43].
type minMsg struct {
	b      []byte
	shared bool
}

func newMinimalRelay() *minimalRelay {
	return &minimalRelay{byChan: map[string][]*minConn{},
		up: websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, CheckOrigin: func(*http.Request) bool { return true }}}
}

func (m *minimalRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := m.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &minConn{r: m, ws: ws, nc: ws.NetConn(), wake: make(chan struct{}, 1)}
	done := make(chan struct{})
	go c.writeLoop(done)
	channel := ""
	defer func() {
		close(done)
		ws.Close()
		if channel != "" {
			m.mu.Lock()
			l := m.byChan[channel]
			for i, x := range l {
				if x == c {
					m.byChan[channel] = append(l[:i:i], l[i+1:]...)
					break
				}
			}
			m.mu.Unlock()
		}
	}()
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var f struct {
			ID      string          `json:"id"`
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(msg, &f) != nil {
			continue
		}
		switch {
		case f.Type == "identify" && channel == "":
			var p struct{ Name, Channel string }
			_ = json.Unmarshal(f.Payload, &p)
			channel = p.Channel
			if channel == "" {
				channel = "default"
			}
			m.mu.Lock()
			m.byChan[channel] = append(m.byChan[channel], c)
			m.mu.Unlock()
			c.push(minMsg{b: m.frame("welcome", []byte(`{"id":"`+m.id()+`","name":`+strconv.Quote(p.Name)+`}`), "")})
		case f.Type == "broadcast_request" && channel != "":
			shared := minMsg{b: m.frame("broadcast", f.Payload, ""), shared: true}
			m.mu.RLock()
			for _, t := range m.byChan[channel] {
				t.push(shared)
			}
			m.mu.RUnlock()
			c.push(minMsg{b: m.frame(f.Type, []byte(`{"status":"sent"}`), f.ID)})
		}
	}
}

func (m *minimalRelay) id() string { return string(m.appendID(nil)) }

// appendID appends a fresh 36-character id.
func (m *minimalRelay) appendID(u []byte) []byte {
	n := m.ctr.Add(1)
	var b [16]byte
	binary.BigEndian.PutUint64(b[8:], n)
	const hex = "0123456789abcdef"
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			u = append(u, '-')
		}
		u = append(u, hex[x>>4], hex[x&15])
	}
	return u
}

func (m *minimalRelay) frame(typ string, payload []byte, replyTo string) []byte {
	b := make([]byte, 0, 96+len(payload))
	b = append(b, `{"id":"`...)
	b = append(b, m.id()...)
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	b = append(b, `","payload":`...)
	b = append(b, payload...)
	if replyTo == "" {
		return append(b, `,"reply_to":null}`...)
	}
	b = append(b, `,"reply_to":`...)
	b = strconv.AppendQuote(b, replyTo)
	return append(b, '}')
}

func (c *minConn) push(b minMsg) {
	c.mu.Lock()
	c.q = append(c.q, b)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop frames every queued message (server frames are unmasked) into
// one buffer and writes it with one system call.
func (c *minConn) writeLoop(done <-chan struct{}) {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var spare []minMsg
	for {
		select {
		case <-done:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		batch := c.q
		c.q = spare[:0]
		c.mu.Unlock()
		for _, msg := range batch {
			m := msg.b
			var h [10]byte
			h[0] = 0x81 // FIN, text
			n := 2
			switch l := len(m); {
			case l < 126:
				h[1] = byte(l)
			case l <= 0xffff:
				h[1] = 126
				binary.BigEndian.PutUint16(h[2:], uint16(l))
				n = 4
			default:
				h[1] = 127
				binary.BigEndian.PutUint64(h[2:], uint64(l))
				n = 10
			}
			_, _ = bw.Write(h[:n])
			if msg.shared {
				var id [36]byte
				_, _ = bw.Write(m[:7])
				_, _ = bw.Write(c.r.appendID(id[:0]))
				_, _ = bw.Write(m[43:])
			} else {
				_, _ = bw.Write(m)
			}
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if bw.Flush() != nil {
			c.nc.Close()
			return
		}
		clear(batch)
		spare = batch
	}
}

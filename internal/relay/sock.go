package relay

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// sock is one client transport as the relay sees it: a WebSocket or the
// relay end of an in-process pipe. read is called by the reader goroutine
// only; writeBatch, ping and writeClose by the writer goroutine only; close
// by anyone.
type sock interface {
	// read returns the next whole message.
	read() ([]byte, error)
	// writeBatch writes the messages in order and flushes them, giving up at
	// deadline.
	writeBatch(msgs [][]byte, deadline time.Time) error
	// ping sends a keepalive ping (no-op for pipes).
	ping(deadline time.Time) error
	// writeClose sends a close frame with code and reason.
	writeClose(code int, reason string, deadline time.Time) error
	// close tears the transport down; it unblocks read and writeBatch.
	close()
	// abort makes a blocked or later writeBatch fail at once (reaping).
	abort()
}

// wsSock is a gorilla WebSocket over a bufConn, so that a batch of messages
// leaves in one write system call.
type wsSock struct {
	ws   *websocket.Conn
	bc   *bufConn
	idle time.Duration // read deadline after each message (keepalive); 0 = none
}

func (s *wsSock) read() ([]byte, error) {
	_, msg, err := s.ws.ReadMessage()
	if err == nil && s.idle > 0 && !s.bc.final.Load() {
		_ = s.ws.SetReadDeadline(time.Now().Add(s.idle))
	}
	return msg, err
}

// halfClose is called by the writer after the close frame when the peer has
// not answered it: the close frame and a FIN go out, and the reader goes on
// discarding what the peer still sends until d (no keepalive extension), so
// the final close does not reset the connection with our close frame still
// unread on the way (a flooding client would see 1006 instead of 1008).
func (s *wsSock) halfClose(d time.Time) {
	s.bc.final.Store(true)
	if tc, ok := s.bc.Conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_ = s.bc.Conn.SetReadDeadline(d)
}

// setReadLimit is called by the reader goroutine (after identify).
func (s *wsSock) setReadLimit(n int64) { s.ws.SetReadLimit(n) }

func (s *wsSock) writeBatch(msgs [][]byte, deadline time.Time) error {
	s.bc.startBatch()
	for _, m := range msgs {
		w, err := s.ws.NextWriter(websocket.TextMessage)
		if err != nil {
			s.bc.abortBatch()
			return err
		}
		_, _ = w.Write(m)
		if err := w.Close(); err != nil {
			s.bc.abortBatch()
			return err
		}
	}
	return s.bc.flush(deadline)
}

func (s *wsSock) ping(deadline time.Time) error {
	return s.ws.WriteControl(websocket.PingMessage, nil, deadline)
}

func (s *wsSock) writeClose(code int, reason string, deadline time.Time) error {
	return s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
}

func (s *wsSock) close() { _ = s.bc.Conn.Close() }

func (s *wsSock) abort() {
	s.bc.aborted.Store(true)
	_ = s.bc.Conn.SetWriteDeadline(time.Now()) // net.Conn methods are goroutine-safe
}

// drain is called by the writer once the reader has stopped: see linger.
func (s *wsSock) drain(limit int64) { s.bc.linger(limit) }

// errBroken is returned by bufConn writes after a failed flush.
var errBroken = errors.New("relay: connection write failed earlier")

// bufConn wraps the hijacked net.Conn. Outside a batch, writes go straight
// through (the upgrade response, control frames written by gorilla from the
// reader goroutine). During a batch, writes collect in a pooled buffer and
// flush sends them with one system call. mu serialises both paths.
type bufConn struct {
	net.Conn
	pool    *sync.Pool  // of *[]byte
	aborted atomic.Bool // set by abort: stop writing
	final   atomic.Bool // set by halfClose: the read deadline is final

	mu       sync.Mutex // guards the fields below
	batching bool
	broken   error
	buf      *[]byte // held only during a batch
}

func (b *bufConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken != nil {
		return 0, b.broken
	}
	if b.batching {
		*b.buf = append(*b.buf, p...)
		return len(p), nil
	}
	return b.Conn.Write(p)
}

// SetWriteDeadline is ignored during a batch (flush sets its own).
func (b *bufConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batching {
		return nil
	}
	return b.Conn.SetWriteDeadline(t)
}

func (b *bufConn) startBatch() {
	bp, _ := b.pool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b.mu.Lock()
	b.batching = true
	b.buf = bp
	b.mu.Unlock()
}

func (b *bufConn) endBatchLocked() {
	bp := b.buf
	b.buf = nil
	b.batching = false
	if cap(*bp) <= 256<<10 {
		*bp = (*bp)[:0]
		b.pool.Put(bp)
	}
}

func (b *bufConn) abortBatch() {
	b.mu.Lock()
	b.endBatchLocked()
	b.mu.Unlock()
}

// flush writes the batch with the deadline and ends batching.
func (b *bufConn) flush(deadline time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if len(*b.buf) > 0 && b.broken == nil {
		err = b.writeProgress(*b.buf, deadline)
		if err != nil {
			b.broken = errBroken
		}
	}
	b.endBatchLocked()
	if err == nil {
		err = b.broken
	}
	return err
}

// writeProgress writes p; the deadline is a stall limit: as long as the peer
// takes some bytes within each window, the write goes on.
func (b *bufConn) writeProgress(p []byte, deadline time.Time) error {
	window := time.Until(deadline)
	for {
		if b.aborted.Load() {
			return errBroken
		}
		_ = b.Conn.SetWriteDeadline(time.Now().Add(window))
		if b.aborted.Load() {
			return errBroken
		}
		n, err := b.Conn.Write(p)
		p = p[n:]
		if err == nil || len(p) == 0 {
			return nil
		}
		var ne net.Error
		if n == 0 || !errors.As(err, &ne) || !ne.Timeout() {
			return err
		}
	}
}

// linger half-closes the socket and discards what the peer still sends (up
// to limit bytes or closeGrace), so a peer that is mid-way through writing an
// oversize frame reads our close frame instead of a connection reset.
func (b *bufConn) linger(limit int64) {
	if tc, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_ = b.Conn.SetReadDeadline(time.Now().Add(closeGrace))
	_, _ = io.CopyN(io.Discard, b.Conn, limit)
}

package relay

import (
	"encoding/binary"
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
	out := make([]outMsg, len(msgs))
	for i, m := range msgs {
		out[i] = outMsg{b: m}
	}
	return s.writeOut(out, nil, deadline)
}

// writeOut frames every message (server frames are unmasked text frames)
// straight into one pooled buffer, writing a fresh id into each shared
// fan-out copy on the way, and sends the buffer with one write. Control
// frames (pong, close) that gorilla writes from other goroutines go through
// bufConn.Write and so land between whole batches.
func (s *wsSock) writeOut(msgs []outMsg, ids *idGen, deadline time.Time) error {
	bp := s.bc.getBuf()
	b := *bp
	var blk idBlock
	if ids != nil {
		blk = ids.reserve(len(msgs)) // one atomic add per batch, not per copy
	}
	for _, m := range msgs {
		n := len(m.b)
		switch {
		case n < 126:
			b = append(b, 0x81, byte(n))
		case n <= 0xffff:
			b = append(b, 0x81, 126, byte(n>>8), byte(n))
		default:
			b = append(b, 0x81, 127)
			b = binary.BigEndian.AppendUint64(b, uint64(n))
		}
		if m.fresh && ids != nil {
			b = append(b, m.b[:idStart]...)
			b = blk.appendID(b)
			b = append(b, m.b[idEnd:]...)
		} else {
			b = append(b, m.b...)
		}
	}
	*bp = b
	err := s.bc.writeAll(b, deadline)
	s.bc.putBuf(bp)
	return err
}

func (s *wsSock) ping(deadline time.Time) error {
	return s.ws.WriteControl(websocket.PingMessage, nil, deadline)
}

func (s *wsSock) pong(data string, deadline time.Time) error {
	err := s.ws.WriteControl(websocket.PongMessage, []byte(data), deadline)
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
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

// bufConn wraps the hijacked net.Conn: gorilla's own writes (the upgrade
// response, control frames) and the writer's batches (writeAll) are
// serialised by mu, so frames never interleave.
type bufConn struct {
	net.Conn
	pool    *sync.Pool  // of *[]byte batch buffers
	aborted atomic.Bool // set by abort: stop writing
	final   atomic.Bool // set by halfClose: the read deadline is final

	mu     sync.Mutex // guards broken and writes to Conn
	broken error
}

// Batch buffers start at batchBufSize; a buffer that grew past
// maxPooledBuf is dropped rather than pooled.
const (
	batchBufSize = 16 << 10
	maxPooledBuf = 256 << 10
)

func (b *bufConn) getBuf() *[]byte {
	if bp, _ := b.pool.Get().(*[]byte); bp != nil {
		return bp
	}
	buf := make([]byte, 0, batchBufSize)
	return &buf
}

func (b *bufConn) putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledBuf {
		*bp = (*bp)[:0]
		b.pool.Put(bp)
	}
}

func (b *bufConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken != nil {
		return 0, b.broken
	}
	return b.Conn.Write(p)
}

// SetWriteDeadline waits for a batch in progress (gorilla sets a deadline
// before each control frame; it must not cut a batch's own deadline short).
func (b *bufConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Conn.SetWriteDeadline(t)
}

// writeAll writes a whole batch (see writeProgress); after a failure every
// later write fails too.
func (b *bufConn) writeAll(p []byte, deadline time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken != nil {
		return b.broken
	}
	if err := b.writeProgress(p, deadline); err != nil {
		b.broken = errBroken
		return err
	}
	return nil
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

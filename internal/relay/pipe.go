package relay

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/wire"
)

// ErrClosed is returned by Pipe when the relay is shut down.
var ErrClosed = errors.New("relay: closed")

// Pipe connects an in-process member (the bridge) to the relay without a
// socket. The returned transport goes through the very same state machine
// as a WebSocket: it must identify (with the token when one is set), and
// the grammar, permissions, queue and close rules apply. Differences: no
// Origin check and no keepalive pings (there is no network), and the
// inbound rate limit is Config.PipeRateLimit (default 1000 frames/s) rather
// than RateLimit, because one hub may publish for many sensors.
// remoteAddr is the address used for logs and the pending-per-IP cap.
//
// ctx bounds only the setup; the member lives until its transport is closed
// or the relay is. When the relay closes the member, ReadMessage returns a
// *wire.CloseError with the close code (1001 on shutdown).
func (s *Server) Pipe(ctx context.Context, remoteAddr string) (wire.Transport, error) {
	return s.PipeWith(ctx, remoteAddr, PipeOptions{})
}

// PipeOptions adjust an in-process member's pipe.
type PipeOptions struct {
	// Quiet: the member gets neither its own broadcasts back nor the
	// {"status":"sent"} replies to its broadcast_request frames (the
	// bridge, which never acts on either, would otherwise read and drop
	// half of what the relay writes to it). A refused broadcast is still
	// answered.
	Quiet bool
}

// PipeWith is Pipe with options.
func (s *Server) PipeWith(ctx context.Context, remoteAddr string, o PipeOptions) (wire.Transport, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &pipe{
		toRelay:  make(chan []byte, 16),
		toClient: make(chan []byte, 64),
		cliDone:  make(chan struct{}),
		relDone:  make(chan struct{}),
	}
	c := s.newConn((*pipeRelayEnd)(p), remoteAddr, "", true)
	c.quiet = o.Quiet
	if !s.start(c, "") {
		return nil, ErrClosed
	}
	go c.run()
	return (*pipeClientEnd)(p), nil
}

// pipe is a message pipe between an in-process member and the relay.
type pipe struct {
	toRelay  chan []byte   // never closed
	toClient chan []byte   // never closed
	cliDone  chan struct{} // closed by the member's Close
	relDone  chan struct{} // closed by the relay end's close
	cliOnce  sync.Once
	relOnce  sync.Once
	closeErr atomic.Pointer[wire.CloseError] // set before relDone is closed
}

// pipeClientEnd is the member's wire.Transport.
type pipeClientEnd pipe

func (p *pipeClientEnd) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case m := <-p.toClient:
		return m, nil
	default:
	}
	select {
	case m := <-p.toClient:
		return m, nil
	case <-p.relDone:
		select {
		case m := <-p.toClient: // deliver what was written before the close
			return m, nil
		default:
		}
		return nil, (*pipe)(p).closed()
	case <-p.cliDone:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipeClientEnd) WriteMessage(ctx context.Context, msg []byte) error {
	select {
	case <-p.cliDone:
		return net.ErrClosed
	case <-p.relDone:
		return (*pipe)(p).closed()
	default:
	}
	cp := append([]byte(nil), msg...)
	select {
	case p.toRelay <- cp:
		return nil
	case <-p.relDone:
		return (*pipe)(p).closed()
	case <-p.cliDone:
		return net.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeClientEnd) Close() error {
	p.cliOnce.Do(func() { close(p.cliDone) })
	return nil
}

func (p *pipe) closed() error {
	if e := p.closeErr.Load(); e != nil {
		return e
	}
	return &wire.CloseError{Code: websocket.CloseAbnormalClosure}
}

// pipeRelayEnd is the relay's sock over a pipe.
type pipeRelayEnd pipe

func (p *pipeRelayEnd) read() ([]byte, error) {
	select {
	case m := <-p.toRelay:
		return m, nil
	case <-p.cliDone:
		return nil, io.EOF
	case <-p.relDone:
		return nil, net.ErrClosed
	}
}

func (p *pipeRelayEnd) writeBatch(msgs [][]byte, deadline time.Time) error {
	var timeout <-chan time.Time
	for _, m := range msgs {
		select {
		case p.toClient <- m:
			continue
		default:
		}
		if timeout == nil {
			t := time.NewTimer(time.Until(deadline))
			defer t.Stop()
			timeout = t.C
		}
		select {
		case p.toClient <- m:
		case <-timeout:
			return errPipeTimeout{}
		case <-p.cliDone:
			return net.ErrClosed
		case <-p.relDone:
			return net.ErrClosed
		}
	}
	return nil
}

func (p *pipeRelayEnd) ping(time.Time) error { return nil }

// writeClose records the code for the member and closes the relay end: a
// pipe has no close handshake.
func (p *pipeRelayEnd) writeClose(code int, reason string, _ time.Time) error {
	p.closeErr.CompareAndSwap(nil, &wire.CloseError{Code: code, Reason: reason})
	p.close()
	return nil
}

func (p *pipeRelayEnd) abort() {
	_ = p.writeClose(websocket.CloseNormalClosure, "slow consumer", time.Time{})
}

func (p *pipeRelayEnd) close() { p.relOnce.Do(func() { close(p.relDone) }) }

// errPipeTimeout is a net.Error timeout, so a stalled member is reaped like
// a stalled socket.
type errPipeTimeout struct{}

func (errPipeTimeout) Error() string   { return "relay: pipe write timeout" }
func (errPipeTimeout) Timeout() bool   { return true }
func (errPipeTimeout) Temporary() bool { return true }

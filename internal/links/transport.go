package links

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/meshbox/meshbox/internal/wire"
	"github.com/meshbox/meshbox/meshsocket"
)

// ErrQueueFull is why an upstream connection is dropped when the remote
// cannot keep up with the box.
var ErrQueueFull = errors.New("upstream send queue full")

// queuedTransport wraps the upstream WebSocket: writes are queued and a
// goroutine writes them, so WriteMessage never waits for the network;
// inbound frames are filtered and rewritten by ns.
type queuedTransport struct {
	inner wire.Transport
	ns    *namespace
	log   *slog.Logger
	q     chan []byte
	done  chan struct{}
	once  sync.Once
	wrote chan struct{} // closed when the writer goroutine ends
}

func newQueuedTransport(inner wire.Transport, ns *namespace, size int, log *slog.Logger) *queuedTransport {
	t := &queuedTransport{inner: inner, ns: ns, log: log, q: make(chan []byte, size), done: make(chan struct{}), wrote: make(chan struct{})}
	go t.writer()
	return t
}

func (t *queuedTransport) writer() {
	defer close(t.wrote)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Close interrupts a write in progress.
	go func() {
		select {
		case <-t.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-t.done:
			return
		case msg := <-t.q:
			if err := t.inner.WriteMessage(ctx, msg); err != nil {
				if ctx.Err() == nil {
					t.log.Warn("upstream write failed; reconnecting", "err", err)
				}
				_ = t.Close()
				return
			}
		}
	}
}

// WriteMessage queues msg. When the queue is full the connection is
// dropped (the client reconnects and the bridge re-sends a snapshot).
func (t *queuedTransport) WriteMessage(_ context.Context, msg []byte) error {
	select {
	case <-t.done:
		return meshsocket.ErrDisconnected
	default:
	}
	select {
	case t.q <- msg:
		return nil
	default:
		t.log.Warn("upstream too slow: send queue full; dropping the connection", "queued", cap(t.q))
		_ = t.Close()
		return ErrQueueFull
	}
}

// ReadMessage returns the next frame meant for this box.
func (t *queuedTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	for {
		msg, err := t.inner.ReadMessage(ctx)
		if err != nil {
			return nil, err
		}
		if out, keep := t.ns.inbound(msg); keep {
			return out, nil
		}
	}
}

// Ping forwards the WebSocket keepalive.
func (t *queuedTransport) Ping(ctx context.Context) error {
	if p, ok := t.inner.(meshsocket.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Close stops the writer and closes the WebSocket.
func (t *queuedTransport) Close() error {
	var err error
	t.once.Do(func() {
		close(t.done)
		err = t.inner.Close()
	})
	return err
}

package links

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
)

// stalled is a transport whose writes hang until it is closed (a remote
// that stopped reading).
type stalled struct {
	once   sync.Once
	closed chan struct{}
	mu     sync.Mutex
	writes int
}

func (s *stalled) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case <-s.closed:
		return nil, &wire.CloseError{Code: 1006, Reason: "closed"}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *stalled) WriteMessage(ctx context.Context, _ []byte) error {
	s.mu.Lock()
	s.writes++
	s.mu.Unlock()
	select {
	case <-s.closed:
		return errors.New("closed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *stalled) Close() error { s.once.Do(func() { close(s.closed) }); return nil }

func TestSlowUpstreamNeverBlocksTheBridge(t *testing.T) {
	inner := &stalled{closed: make(chan struct{})}
	qt := newQueuedTransport(inner, newNamespace("box."), 8, slog.New(slog.DiscardHandler))
	msg := frame("broadcast_request", `{"msg_type":"state","target":"lamp","value":true}`, "")
	// Writes return at once even though nothing is written: with a queue
	// of 8 the 10th write overflows (a liveness check, not a timing one).
	var err error
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ; n < 100 && err == nil; n++ {
			err = qt.WriteMessage(context.Background(), msg)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("WriteMessage blocked on a stalled upstream")
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("after %d writes err = %v, want ErrQueueFull", n, err)
	}
	// The overflow dropped the connection: the reader sees it end, so the
	// client reconnects (and the bridge re-sends its snapshot).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := qt.ReadMessage(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("read after overflow: %v (ctx %v)", err, ctx.Err())
	}
	if err := qt.WriteMessage(context.Background(), msg); err == nil {
		t.Error("write after the drop succeeded")
	}
	select {
	case <-qt.wrote:
	case <-time.After(5 * time.Second):
		t.Error("writer goroutine still running after close")
	}
	t.Logf("queue of 8 overflowed at write %d", n)
}

package meshsocket

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"testing"

	"github.com/meshbox/meshbox/internal/wire"
)

// memLink is an in-memory transport pair (no sockets), used where the test
// itself plays the relay: stray replies, identify contents, synctest.
type memLink struct {
	done chan struct{}
	once sync.Once
	err  error // what reads return after done; set before done closes
}

type memEnd struct {
	link *memLink
	rx   chan []byte
	tx   chan []byte
}

func newMemPair() (client, relay *memEnd) {
	l := &memLink{done: make(chan struct{})}
	a, b := make(chan []byte, 256), make(chan []byte, 256)
	return &memEnd{link: l, rx: a, tx: b}, &memEnd{link: l, rx: b, tx: a}
}

func (e *memEnd) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case m := <-e.rx:
		return m, nil
	case <-e.link.done:
		return nil, e.link.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *memEnd) WriteMessage(ctx context.Context, msg []byte) error {
	select {
	case <-e.link.done:
		return e.link.err
	default:
	}
	select {
	case e.tx <- append([]byte(nil), msg...):
		return nil
	case <-e.link.done:
		return e.link.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *memEnd) closeWith(err error) {
	e.link.once.Do(func() {
		e.link.err = err
		close(e.link.done)
	})
}

func (e *memEnd) Close() error {
	e.closeWith(io.EOF)
	return nil
}

// fakeRelay plays the relay on the relay end: reads identify and answers.
type fakeRelay struct {
	t   *testing.T
	end *memEnd
}

func (r *fakeRelay) read() wire.Frame {
	r.t.Helper()
	m, err := r.end.ReadMessage(context.Background())
	if err != nil {
		r.t.Errorf("fake relay read: %v", err)
		return wire.Frame{}
	}
	f, err := wire.Decode(m)
	if err != nil {
		r.t.Errorf("fake relay decode %q: %v", m, err)
	}
	return f
}

func (r *fakeRelay) send(f wire.Frame) {
	if f.ID == "" {
		f.ID = wire.NewID()
	}
	_ = r.end.WriteMessage(context.Background(), wire.Encode(f))
}

func (r *fakeRelay) welcome(id string) {
	p, _ := json.Marshal(map[string]string{"id": id, "name": "x"})
	r.send(wire.Frame{Type: "welcome", Payload: p})
}

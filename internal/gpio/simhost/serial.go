package simhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
)

// pipe is a one-way, buffered, closable byte stream.
type pipe struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
	wake   chan struct{} // closed and replaced when data arrives or on close
}

func newPipe() *pipe { return &pipe{wake: make(chan struct{})} }

func (p *pipe) signal() {
	close(p.wake)
	p.wake = make(chan struct{})
}

func (p *pipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	p.buf.Write(b)
	p.signal()
	return len(b), nil
}

// read waits up to timeout (0: forever) for data; on timeout it returns
// 0, nil like go.bug.st/serial does.
func (p *pipe) read(b []byte, timeout time.Duration, done <-chan struct{}) (int, error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		p.mu.Lock()
		if p.buf.Len() > 0 && len(b) > 0 {
			n, _ := p.buf.Read(b)
			p.mu.Unlock()
			return n, nil
		}
		if p.closed {
			p.mu.Unlock()
			return 0, io.EOF
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-deadline:
			return 0, nil
		case <-done:
			return 0, io.ErrClosedPipe
		}
	}
}

func (p *pipe) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.signal()
	}
}

// SerialEnd is one end of a simulated serial connection: the device side
// (returned by Board.Serial, a gpio.SerialPort) or the peer side the test
// talks through (SerialPeer).
type SerialEnd struct {
	name string
	in   *pipe
	out  *pipe
	baud int

	mu      sync.Mutex
	timeout time.Duration
	done    chan struct{}
	closed  bool
}

func (e *SerialEnd) Read(b []byte) (int, error) {
	e.mu.Lock()
	t := e.timeout
	e.mu.Unlock()
	return e.in.read(b, t, e.done)
}

func (e *SerialEnd) Write(b []byte) (int, error) { return e.out.write(b) }

// SetReadTimeout bounds each Read (0 blocks); a Read that times out returns
// 0, nil.
func (e *SerialEnd) SetReadTimeout(d time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.timeout = max(d, 0)
	return nil
}

// Close closes this end; the other end reads EOF and fails to write.
func (e *SerialEnd) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.done)
		e.in.close()
		e.out.close()
	}
	return nil
}

// Baud is the rate the device side opened the port at.
func (e *SerialEnd) Baud() int { return e.baud }

func (e *SerialEnd) String() string { return "sim-serial " + e.name }

// serialSlot is a registered port and its current connection.
type serialSlot struct {
	dev, peer *SerialEnd
	opened    chan struct{} // closed and replaced on every Serial open
}

func (s *serialSlot) closeConn() {
	if s.dev != nil {
		_ = s.dev.Close()
		_ = s.peer.Close()
	}
}

// AddSerial registers a simulated serial port name; Serial(name) then opens
// it and SerialPeer returns the end the test talks through.
func (b *Board) AddSerial(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.serials[name]; !ok {
		b.serials[name] = &serialSlot{opened: make(chan struct{})}
	}
}

// RemoveSerial unplugs the port: the open connection is closed (reads see
// EOF) and Serial fails until AddSerial is called again.
func (b *Board) RemoveSerial(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.serials[name]; ok {
		s.closeConn()
		delete(b.serials, name)
	}
}

// ErrNoPort is returned for an unregistered serial port.
var ErrNoPort = errors.New("simhost: no such serial port")

// Serial opens the registered port name; a previous connection on it is
// closed first (one opener at a time, like a tty held exclusively).
func (b *Board) Serial(name string, baud int) (gpio.SerialPort, error) {
	if baud <= 0 {
		return nil, fmt.Errorf("sim serial %s: invalid baud rate %d", name, baud)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	s, ok := b.serials[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoPort, name)
	}
	s.closeConn()
	a, c := newPipe(), newPipe()
	s.dev = &SerialEnd{name: name, in: a, out: c, baud: baud, done: make(chan struct{})}
	s.peer = &SerialEnd{name: name + " (peer)", in: c, out: a, baud: baud, done: make(chan struct{})}
	close(s.opened)
	s.opened = make(chan struct{})
	return s.dev, nil
}

// SerialPeer waits until port name is opened by Serial and returns the
// test's end of that connection.
func (b *Board) SerialPeer(ctx context.Context, name string) (*SerialEnd, error) {
	for {
		b.mu.Lock()
		s, ok := b.serials[name]
		if !ok {
			b.mu.Unlock()
			return nil, fmt.Errorf("%w: %s", ErrNoPort, name)
		}
		if s.peer != nil && !s.dev.isClosed() {
			p := s.peer
			b.mu.Unlock()
			return p, nil
		}
		opened := s.opened
		b.mu.Unlock()
		select {
		case <-opened:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s to be opened: %w", name, ctx.Err())
		}
	}
}

func (e *SerialEnd) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

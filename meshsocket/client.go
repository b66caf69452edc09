package meshsocket

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/meshbox/meshbox/internal/wire"
)

// Client is a MeshSocket client. Create it with New, run it with Start or
// Run, stop it with Close.
//
// Lock order: sendMu before mu; hmu is never held with another lock.
type Client struct {
	// Immutable after New.
	opts     Options
	dial     func(ctx context.Context) (wire.Transport, error)
	closeCtx context.Context // cancelled by Close
	closeFn  context.CancelFunc

	// wg counts every goroutine the client starts (and Run itself).
	wg        sync.WaitGroup
	closeOnce sync.Once
	closed    atomic.Bool

	hmu       sync.RWMutex
	handlers  map[string]Handler // guarded by hmu
	unhandled Handler            // guarded by hmu

	// sendMu guards live and buf: Send either writes to live or queues
	// in buf, and the replay after welcome sets live only once buf is
	// empty, so offline frames keep their order.
	sendMu sync.Mutex
	live   *session
	buf    *offlineBuffer

	// mu guards the fields below.
	mu      sync.Mutex
	running bool
	cur     *session      // admitted (and flushed) session, nil otherwise
	id      string        // relay id from the last welcome
	refused error         // last attempt reached the relay but was refused; cleared by the next dial
	lastErr error         // last attempt's error, for messages
	exited  bool          // Run returned
	exitErr error         // Run's error
	changed chan struct{} // closed and replaced on every state change
	pending map[string]*pendingReq
}

type pendingReq struct {
	s  *session
	ch chan reply // buffered 1
}

type reply struct {
	payload json.RawMessage
	err     error
}

// New checks opts and returns a client that is not running yet.
func New(opts Options) (*Client, error) {
	opts.setDefaults()
	if opts.Name == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		opts.Name = "node-" + hex.EncodeToString(b[:])
	}
	c := &Client{
		opts:     opts,
		handlers: map[string]Handler{},
		buf:      newOfflineBuffer(opts.MaxOfflineBuffer, opts.OfflineFile),
		changed:  make(chan struct{}),
		pending:  map[string]*pendingReq{},
	}
	c.dial = opts.Dial
	if c.dial == nil {
		if _, err := ValidateURL(opts.URL); err != nil {
			return nil, err
		}
		if opts.WebSocket.CAFile != "" && opts.WebSocket.TLSConfig == nil {
			if _, err := LoadCAFile(opts.WebSocket.CAFile); err != nil {
				return nil, err
			}
		}
		c.dial = func(ctx context.Context) (wire.Transport, error) {
			return DialWebSocket(ctx, c.opts.URL, c.opts.WebSocket)
		}
	}
	c.closeCtx, c.closeFn = context.WithCancel(context.Background())
	return c, nil
}

// Name is the name the client identifies with.
func (c *Client) Name() string { return c.opts.Name }

// ID is the relay-assigned id from the most recent welcome ("" before the
// first admission).
func (c *Client) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// Ready reports whether the client is admitted right now.
func (c *Client) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil
}

// notify wakes everyone waiting for a state change. c.mu must be held.
func (c *Client) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Start runs the client in the background (until Close) and waits until it
// is admitted, refused, or ctx is done. On error the client keeps retrying
// in the background unless NoReconnect is set; call Close either way.
func (c *Client) Start(ctx context.Context) error {
	if err := c.begin(); err != nil {
		return err
	}
	go func() {
		defer c.wg.Done()
		_ = c.supervise(c.closeCtx)
	}()
	return c.WaitReady(ctx)
}

// Run connects and keeps the client connected until ctx is done or Close
// is called (then it returns nil), or, with NoReconnect, until the first
// attempt or connection ends (then it returns why).
func (c *Client) Run(ctx context.Context) error {
	if err := c.begin(); err != nil {
		return err
	}
	defer c.wg.Done()
	return c.supervise(ctx)
}

// begin marks the client running (once) and counts its supervisor in c.wg;
// the caller must call c.wg.Done when the supervisor returns.
func (c *Client) begin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	if c.running {
		return ErrRunning
	}
	c.running = true
	c.wg.Add(1)
	return nil
}

// WaitReady waits until the client is admitted (nil), the current attempt
// is refused by the relay (*RefusedError), the client stops, or ctx ends.
// Dial errors (relay not up yet) are retried, not returned.
func (c *Client) WaitReady(ctx context.Context) error {
	for {
		c.mu.Lock()
		switch {
		case c.cur != nil:
			c.mu.Unlock()
			return nil
		case c.refused != nil:
			err := c.refused
			c.mu.Unlock()
			return err
		case c.exited:
			err := c.exitErr
			c.mu.Unlock()
			if err == nil {
				err = ErrClosed
			}
			return err
		case c.closed.Load():
			c.mu.Unlock()
			return ErrClosed
		}
		ch, last := c.changed, c.lastErr
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.closeCtx.Done():
			// loop: reports ErrClosed
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for the relay: %w (last error: %v)", ctx.Err(), last)
			}
			return fmt.Errorf("waiting for the relay: %w", ctx.Err())
		}
	}
}

// supervise is the connect/reconnect loop.
func (c *Client) supervise(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.closeCtx, cancel)
	defer stop()
	log := c.opts.Logger
	bo := newBackoff(c.opts.MinBackoff, c.opts.MaxBackoff)
	for {
		admitted, opened, err := c.connectOnce(ctx)
		if opened {
			bo.reset()
		}
		if ctx.Err() != nil || c.closed.Load() {
			// Our own stop: no "redialing" line.
			c.exit(nil)
			if c.closed.Load() {
				return nil
			}
			return ctx.Err()
		}
		c.mu.Lock()
		c.lastErr = err
		if opened && !admitted {
			c.refused = err
		}
		c.notify()
		c.mu.Unlock()
		if c.opts.NoReconnect {
			c.exit(err)
			return err
		}
		d := bo.next()
		if goingAway(err) {
			// 1001: the relay is stopping or restarting; expected.
			log.Info("meshsocket: relay is going away; redialing", "relay", c.where(), "in", d)
		} else {
			log.Warn("meshsocket: connection ended, redialing", "relay", c.where(), "err", err, "in", d)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			c.exit(nil)
			if c.closed.Load() {
				return nil
			}
			return ctx.Err()
		}
	}
}

// goingAway reports a close with code 1001 (going away: the relay shuts
// down or restarts), an expected event rather than a fault.
func goingAway(err error) bool {
	var ce *wire.CloseError
	return errors.As(err, &ce) && ce.Code == websocket.CloseGoingAway
}

func (c *Client) exit(err error) {
	c.mu.Lock()
	c.exited, c.exitErr = true, err
	c.notify()
	c.mu.Unlock()
}

// Close stops the client: it closes the connection, waits for every
// goroutine the client started (handlers included), and moves frames still
// queued in RAM to the OfflineFile when one is set. Safe to call more than
// once.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed.Store(true)
		c.notify()
		c.mu.Unlock()
		c.closeFn()
		c.wg.Wait()
		c.sendMu.Lock()
		err = c.buf.spillAll()
		c.sendMu.Unlock()
	})
	return err
}

// On registers h for inbound frames of type typ (replacing any previous
// handler, including the built-in ping/handshake/status_request).
func (c *Client) On(typ string, h Handler) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if h == nil {
		delete(c.handlers, typ)
		return
	}
	c.handlers[typ] = h
}

// Off removes the handler for typ (built-ins answer again).
func (c *Client) Off(typ string) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	delete(c.handlers, typ)
}

// OnUnhandled registers h for inbound frames no On handler or built-in
// takes (nil removes it); e.g. a listener printing everything.
func (c *Client) OnUnhandled(h Handler) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	c.unhandled = h
}

func (c *Client) handler(typ string) Handler {
	c.hmu.RLock()
	h, fallback := c.handlers[typ], c.unhandled
	c.hmu.RUnlock()
	if h != nil {
		return h
	}
	if b := c.builtin(typ); b != nil {
		return b
	}
	return fallback
}

// encodePayload turns a Go value into a raw JSON payload.
func encodePayload(v any) (json.RawMessage, error) {
	switch p := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if len(p) == 0 {
			return nil, nil
		}
		if !json.Valid(p) {
			return nil, fmt.Errorf("payload is not valid JSON")
		}
		return p, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return b, nil
}

// Send sends a fire-and-forget frame. While not admitted the frame is
// queued in the offline buffer (if enabled, else ErrNotConnected). A frame
// whose write fails on a broken connection is queued too.
func (c *Client) Send(ctx context.Context, typ string, payload any) error {
	if c.closed.Load() {
		return ErrClosed
	}
	p, err := encodePayload(payload)
	if err != nil {
		return err
	}
	msg := wire.Encode(Frame{ID: wire.NewID(), Type: typ, Payload: p})
	c.sendMu.Lock()
	s := c.live
	if s == nil {
		if !c.buf.enabled() {
			c.sendMu.Unlock()
			return ErrNotConnected
		}
		err := c.buf.push(msg)
		c.sendMu.Unlock()
		return err
	}
	c.sendMu.Unlock()
	if err := s.write(ctx, msg); err != nil {
		if ctx.Err() != nil || !c.buf.enabled() {
			return err
		}
		c.sendMu.Lock()
		defer c.sendMu.Unlock()
		return c.buf.push(msg)
	}
	return nil
}

// Emit is Send (the Python name).
func (c *Client) Emit(ctx context.Context, typ string, payload any) error {
	return c.Send(ctx, typ, payload)
}

// Request sends a request and returns the reply's payload verbatim (JSON
// null as "null"). It waits for admission first. Without a ctx deadline
// RequestTimeout applies. Replies are matched by reply_to only.
func (c *Client) Request(ctx context.Context, typ string, payload any) (json.RawMessage, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.RequestTimeout)
		defer cancel()
	}
	p, err := encodePayload(payload)
	if err != nil {
		return nil, err
	}
	s, err := c.waitSession(ctx)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", typ, err)
	}
	id := wire.NewID()
	pr := &pendingReq{s: s, ch: make(chan reply, 1)}
	c.mu.Lock()
	c.pending[id] = pr
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := s.write(ctx, wire.Encode(Frame{ID: id, Type: typ, Payload: p})); err != nil {
		return nil, fmt.Errorf("request %s: %w", typ, err)
	}
	select {
	case r := <-pr.ch:
		if r.err != nil {
			return nil, fmt.Errorf("request %s: %w", typ, r.err)
		}
		if r.payload == nil {
			return json.RawMessage("null"), nil
		}
		return r.payload, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("request %s: no reply: %w", typ, ctx.Err())
	}
}

// waitSession waits for an admitted session (Request semantics: wait for
// the connection, like the Python client).
func (c *Client) waitSession(ctx context.Context) (*session, error) {
	for {
		c.mu.Lock()
		s, ch := c.cur, c.changed
		exited, exitErr := c.exited, c.exitErr
		c.mu.Unlock()
		if s != nil {
			return s, nil
		}
		if c.closed.Load() {
			return nil, ErrClosed
		}
		if exited {
			if exitErr == nil {
				exitErr = ErrClosed
			}
			return nil, exitErr
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("not connected: %w", ctx.Err())
		}
	}
}

// resolve hands a reply to its pending request; stray replies are dropped.
func (c *Client) resolve(s *session, f Frame) {
	c.mu.Lock()
	pr := c.pending[f.ReplyTo]
	if pr != nil && pr.s == s {
		delete(c.pending, f.ReplyTo)
	} else {
		pr = nil
	}
	c.mu.Unlock()
	if pr == nil {
		c.opts.Logger.Debug("meshsocket: dropped stray reply", "type", f.Type)
		return
	}
	pr.ch <- reply{payload: f.Payload}
}

// failPending ends every request waiting on s.
func (c *Client) failPending(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, pr := range c.pending {
		if pr.s == s {
			delete(c.pending, id)
			pr.ch <- reply{err: ErrDisconnected}
		}
	}
}

// where names the relay in logs (never the URL's path or query).
func (c *Client) where() string {
	if c.opts.URL == "" {
		return "custom transport"
	}
	return SafeURL(c.opts.URL)
}

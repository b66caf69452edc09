package meshsocket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
)

// session is one connection attempt: a transport, its reader, its
// keepalive and the handlers it started.
type session struct {
	// Immutable after connectOnce creates it.
	c      *Client
	t      wire.Transport
	ctx    context.Context // cancelled at teardown; handlers see it
	cancel context.CancelFunc
	wsem   chan struct{} // one writer at a time (ctx-aware mutex)
	hsem   chan struct{} // bounds queued+running handlers
	start  time.Time

	qmu    sync.Mutex
	queues map[string]*typeQueue // guarded by qmu

	cmu   sync.Mutex
	cause error // first local reason to drop the connection; guarded by cmu
}

func (s *session) write(ctx context.Context, msg []byte) error {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrDisconnected
	}
	defer func() { <-s.wsem }()
	if err := s.t.WriteMessage(ctx, msg); err != nil {
		// A failed or interrupted write leaves the stream unusable.
		s.fail(fmt.Errorf("write: %w", err))
		return err
	}
	return nil
}

// fail drops the connection for a local reason (write error, keepalive).
func (s *session) fail(err error) {
	s.cmu.Lock()
	first := s.cause == nil
	if first {
		s.cause = err
	}
	s.cmu.Unlock()
	if first {
		_ = s.t.Close()
	}
}

func (s *session) failure() error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.cause
}

// connectOnce dials, identifies, waits for welcome, replays the offline
// buffer and serves the connection until it ends. opened reports that a
// transport was established; admitted that welcome arrived.
func (c *Client) connectOnce(ctx context.Context) (admitted, opened bool, err error) {
	c.mu.Lock()
	c.refused = nil
	c.mu.Unlock()
	log := c.opts.Logger
	dctx, dcancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	t, err := c.dial(dctx)
	dcancel()
	if err != nil {
		return false, false, err
	}
	sctx, scancel := context.WithCancel(ctx)
	s := &session{
		c: c, t: t, ctx: sctx, cancel: scancel,
		wsem:   make(chan struct{}, 1),
		hsem:   make(chan struct{}, c.opts.MaxInflight),
		start:  time.Now(),
		queues: map[string]*typeQueue{},
	}
	welcome := make(chan string, 1)
	readDone := make(chan error, 1)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		readDone <- s.readLoop(welcome)
	}()
	var readErr error
	readExited := false
	shutdown := func() {
		scancel()
		_ = t.Close()
		if !readExited {
			readErr = <-readDone
			readExited = true
		}
	}

	ident, _ := json.Marshal(c.opts.identifyPayload())
	if werr := s.write(ctx, wire.Encode(Frame{ID: wire.NewID(), Type: "identify", Payload: ident})); werr != nil {
		shutdown()
		if ctx.Err() != nil {
			return false, true, ctx.Err()
		}
		return false, true, &RefusedError{Err: preferClose(readErr, werr)}
	}
	timer := time.NewTimer(c.opts.WelcomeTimeout)
	var id string
	select {
	case id = <-welcome:
		timer.Stop()
	case readErr = <-readDone:
		readExited = true
		timer.Stop()
		shutdown()
		if ctx.Err() != nil {
			return false, true, ctx.Err()
		}
		return false, true, &RefusedError{Err: readErr}
	case <-timer.C:
		shutdown()
		return false, true, &RefusedError{Err: fmt.Errorf("no welcome within %v", c.opts.WelcomeTimeout)}
	case <-ctx.Done():
		timer.Stop()
		shutdown()
		return false, true, ctx.Err()
	}

	c.mu.Lock()
	c.id = id
	c.mu.Unlock()
	if ferr := c.flush(s); ferr != nil {
		shutdown()
		return true, true, fmt.Errorf("replaying offline frames: %w", ferr)
	}
	c.mu.Lock()
	c.cur = s
	c.lastErr = nil
	c.notify()
	c.mu.Unlock()
	log.Log(context.Background(), c.sessionLevel(), "meshsocket: connected", "relay", c.where(), "name", c.opts.Name, "id", id)
	if c.opts.OnConnect != nil {
		c.opts.OnConnect(id)
	}

	kaDone := make(chan struct{})
	if p, ok := t.(Pinger); ok && c.opts.PingInterval > 0 {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer close(kaDone)
			s.keepalive(p)
		}()
	} else {
		close(kaDone)
	}

	select {
	case readErr = <-readDone:
		readExited = true
	case <-ctx.Done():
	}
	cause := s.failure() // before shutdown adds "use of closed connection"
	// Teardown: stop routing sends here, fail requests, close, wait.
	c.sendMu.Lock()
	if c.live == s {
		c.live = nil
	}
	c.sendMu.Unlock()
	c.mu.Lock()
	if c.cur == s {
		c.cur = nil
	}
	c.notify()
	c.mu.Unlock()
	c.failPending(s)
	shutdown()
	<-kaDone
	err = readErr
	if cause != nil {
		err = cause
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	log.Log(context.Background(), c.sessionLevel(), "meshsocket: disconnected", "relay", c.where(), "err", err)
	if c.opts.OnDisconnect != nil {
		c.opts.OnDisconnect(err)
	}
	return true, true, err
}

// preferClose returns the relay's close error when there is one (more
// telling than the write error it caused).
func preferClose(readErr, writeErr error) error {
	var ce *wire.CloseError
	if errors.As(readErr, &ce) {
		return readErr
	}
	return writeErr
}

// readLoop reads until the transport fails. The first welcome is sent to
// welcome; replies go to pending requests; other frames to handlers.
func (s *session) readLoop(welcome chan<- string) error {
	c := s.c
	welcomed := false
	for {
		msg, err := s.t.ReadMessage(s.ctx)
		if err != nil {
			return err
		}
		f, err := wire.Decode(msg)
		if err != nil {
			c.opts.Logger.Debug("meshsocket: ignored undecodable frame", "err", err)
			continue
		}
		c.handleFrame(s, f, &welcomed, welcome)
	}
}

// handleFrame processes one decoded inbound frame (the fuzzed entry point).
func (c *Client) handleFrame(s *session, f Frame, welcomed *bool, welcome chan<- string) {
	switch {
	case f.Type == "welcome":
		if *welcomed {
			return // one admission per connection
		}
		var p struct {
			ID any `json:"id"`
		}
		_ = json.Unmarshal(f.Payload, &p)
		id, ok := p.ID.(string)
		if !ok || id == "" {
			c.opts.Logger.Warn("meshsocket: welcome without an id ignored")
			return
		}
		*welcomed = true
		welcome <- id
	case f.ReplyTo != "":
		c.resolve(s, f)
	default:
		c.dispatch(s, f)
	}
}

// dispatch queues f for its handler (if any). Handlers for one type run
// one at a time in arrival order (a "set on" then "set off" must not be
// applied the other way round); different types run concurrently. At most
// MaxInflight frames are queued or running; then the reader waits.
func (c *Client) dispatch(s *session, f Frame) {
	h := c.handler(f.Type)
	if h == nil {
		return // unknown types are ignored (§3.1)
	}
	select {
	case s.hsem <- struct{}{}:
	case <-s.ctx.Done():
		return
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	q := s.queues[f.Type]
	if q == nil {
		q = &typeQueue{}
		s.queues[f.Type] = q
	}
	q.items = append(q.items, queued{f: f, h: h})
	if !q.running {
		q.running = true
		c.wg.Add(1)
		go s.runQueue(f.Type, q)
	}
}

// typeQueue is the backlog of one frame type; guarded by session.qmu.
type typeQueue struct {
	items   []queued
	running bool
}

type queued struct {
	f Frame
	h Handler
}

// runQueue runs the handlers of one type until its queue is empty.
func (s *session) runQueue(typ string, q *typeQueue) {
	defer s.c.wg.Done()
	for {
		s.qmu.Lock()
		if len(q.items) == 0 {
			q.running = false
			delete(s.queues, typ)
			s.qmu.Unlock()
			return
		}
		it := q.items[0]
		q.items[0] = queued{}
		q.items = q.items[1:]
		s.qmu.Unlock()
		if s.ctx.Err() == nil {
			s.handle(it.f, it.h)
		}
		<-s.hsem
	}
}

// handle runs one handler and sends its reply.
func (s *session) handle(f Frame, h Handler) {
	c := s.c
	out, err := callHandler(s.ctx, h, f)
	var p json.RawMessage
	if err == nil {
		p, err = encodePayload(out)
	}
	if err != nil {
		c.opts.Logger.Warn("meshsocket: handler failed", "type", f.Type, "err", err)
		p, _ = json.Marshal(map[string]string{"error": err.Error(), "status": "failed"})
	}
	if len(p) == 0 || string(p) == "null" {
		return // no reply
	}
	_ = s.write(s.ctx, wire.Encode(Frame{ID: wire.NewID(), Type: f.Type, Payload: p, ReplyTo: f.ID}))
}

func callHandler(ctx context.Context, h Handler, f Frame) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("handler panic: %v", r)
		}
	}()
	return h(ctx, f)
}

// keepalive pings every PingInterval and drops the connection when a pong
// does not come back within PingTimeout (a deaf relay).
func (s *session) keepalive(p Pinger) {
	c := s.c
	tk := time.NewTicker(c.opts.PingInterval)
	defer tk.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tk.C:
		}
		pctx, cancel := context.WithTimeout(s.ctx, c.opts.PingTimeout)
		err := p.Ping(pctx)
		cancel()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			c.opts.Logger.Warn("meshsocket: relay did not answer the keepalive ping; redialing", "err", err)
			s.fail(fmt.Errorf("keepalive: %w", err))
			return
		}
	}
}

// pacer spaces replayed frames evenly at ReplayRate per second, so a
// replay never trips the relay's inbound rate limit.
type pacer struct {
	gap  time.Duration // 0: no pacing
	next time.Time
}

func (p *pacer) wait(ctx context.Context) error {
	if p.gap <= 0 {
		return nil
	}
	now := time.Now()
	if p.next.After(now) {
		t := time.NewTimer(p.next.Sub(now))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		now = p.next
	}
	p.next = now.Add(p.gap)
	return nil
}

// replayWrite writes one replayed frame, paced.
func (s *session) replayWrite(p *pacer, msg []byte) error {
	if err := p.wait(s.ctx); err != nil {
		return err
	}
	return s.write(s.ctx, msg)
}

// flush replays the offline buffer on s (file first, then RAM) and makes
// s the live session once the buffer is empty.
func (c *Client) flush(s *session) error {
	log := c.opts.Logger
	p := &pacer{}
	if c.opts.ReplayRate > 0 {
		p.gap = time.Second / time.Duration(c.opts.ReplayRate)
	}
	for {
		c.sendMu.Lock()
		var data []byte
		if c.buf.path != "" {
			d, err := c.buf.readFile()
			if err != nil {
				c.sendMu.Unlock()
				return err
			}
			data = d
		}
		if len(data) > 0 {
			c.sendMu.Unlock()
			if err := c.replayFile(s, p, data); err != nil {
				return err
			}
			continue
		}
		if len(c.buf.ram) > 0 {
			batch := c.buf.ram
			c.buf.ram = nil
			c.sendMu.Unlock()
			for i, msg := range batch {
				if err := s.replayWrite(p, msg); err != nil {
					c.sendMu.Lock()
					rerr := c.buf.requeueFront(batch[i:])
					c.sendMu.Unlock()
					if rerr != nil {
						log.Error("meshsocket: offline frames lost", "n", len(batch)-i, "err", rerr)
					}
					return err
				}
			}
			continue
		}
		c.live = s
		c.sendMu.Unlock()
		return nil
	}
}

// replayFile sends the valid frames of data (the file's content when read)
// and trims them from the file, keeping anything appended since.
func (c *Client) replayFile(s *session, p *pacer, data []byte) error {
	frames, dropped := parseSpill(data)
	if dropped > 0 {
		c.opts.Logger.Warn("meshsocket: dropped invalid lines from the offline file", "n", dropped)
	}
	n := len(data)
	for i, sp := range frames {
		if err := s.replayWrite(p, sp.msg); err != nil {
			c.sendMu.Lock()
			defer c.sendMu.Unlock()
			rest := make([][]byte, 0, len(frames)-i)
			for _, r := range frames[i:] {
				rest = append(rest, r.msg)
			}
			cur, rerr := c.buf.readFile()
			if rerr == nil {
				rerr = c.buf.rewriteFile(joinLines(rest), tail(cur, n))
			}
			if rerr != nil {
				c.opts.Logger.Error("meshsocket: could not trim the offline file", "err", rerr)
			}
			return err
		}
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	cur, err := c.buf.readFile()
	if err != nil {
		return err
	}
	return c.buf.rewriteFile(nil, tail(cur, n))
}

// tail is what was appended to the file after its first n bytes were read.
func tail(cur []byte, n int) []byte {
	if len(cur) <= n {
		return nil
	}
	return cur[n:]
}

// sessionLevel is the level of the connected/disconnected lines: INFO for a
// relay reached by URL, DEBUG for a custom transport (an in-process member
// such as meshbox's bridge, which logs its own joining).
func (c *Client) sessionLevel() slog.Level {
	if c.opts.URL == "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

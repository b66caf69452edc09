package relay

import (
	"container/list"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/wire"
)

// closeGrace is how long the writer waits for the peer's close frame after
// sending its own before tearing the socket down.
const closeGrace = time.Second

// Authentication states of a connection.
const (
	authPending int32 = iota
	authDone
	authExpired
)

// conn is one client of the relay: a WebSocket or an in-process pipe. The
// reader goroutine (run) reads and handles frames in order; the writer
// goroutine (writeLoop) is the only one that writes to the transport.
type conn struct {
	// Immutable after newConn.
	s     *Server
	sk    sock
	ip    string
	query string // ?token= of the upgrade URL
	pipe  bool
	quiet bool // a quiet pipe: no own broadcasts back, no "sent" replies (PipeOptions)
	born  time.Time

	log atomic.Pointer[slog.Logger] // enriched with id and name at admission

	// Owned by the reader goroutine.
	rate      rateWindow
	authTimer *time.Timer
	maxIn     int64 // largest frame accepted now: PreAuthMaxSize, MaxSize after identify

	// Written under Server.mu by the reader (admission), read under Server.mu
	// by others and freely by the reader.
	counted    bool          // counts in Server.open
	holdsSlot  bool          // counts in Server.pendingIP
	registered bool          // in the member tables
	pendEl     *list.Element // in Server.pendingQ (unidentified socket)
	evicted    bool          // closed by a pending cap: never registered
	id         string
	ident      identity

	auth        atomic.Int32 // authPending → authDone | authExpired
	outstanding atomic.Int32 // route_msg requests from this conn not yet answered

	pmu     sync.Mutex        // guards pending, gone
	pending map[string]*route // routes waiting for this conn's reply, by frame id
	gone    bool              // torn down: no new pending routes

	qmu     sync.Mutex // guards q, qBytes, qClosed
	q       [][]byte
	qBytes  int64
	qClosed bool
	wake    chan struct{} // cap 1, never closed: q became non-empty

	closing   atomic.Bool
	linger    atomic.Bool // the reader stopped mid-frame (oversize): drain before closing
	closeOnce sync.Once
	closeCode int           // written before closeReq is closed
	closeWhy  string        // ditto
	closeReq  chan struct{} // closed by requestClose
	readDone  chan struct{} // closed when the reader stops reading
}

func (s *Server) newConn(sk sock, ip, query string, pipe bool) *conn {
	c := &conn{
		s: s, sk: sk, ip: ip, query: query, pipe: pipe,
		born:     time.Now(),
		wake:     make(chan struct{}, 1),
		closeReq: make(chan struct{}),
		readDone: make(chan struct{}),
	}
	c.rate.limit = s.cfg.RateLimit
	c.maxIn = min(s.cfg.PreAuthMaxSize, s.cfg.MaxSize)
	if c.maxIn <= 0 {
		c.maxIn = s.cfg.MaxSize
	}
	if pipe {
		c.rate.limit = s.cfg.PipeRateLimit
	}
	c.log.Store(s.log.With("remote", ip))
	return c
}

func (c *conn) logger() *slog.Logger { return c.log.Load() }

// requestClose asks the writer to send a close frame and tear the
// connection down. Only the first request counts. It never blocks.
func (c *conn) requestClose(code int, why string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeWhy = code, why
		c.closing.Store(true)
		c.qmu.Lock()
		c.qClosed = true
		c.q = nil
		c.qmu.Unlock()
		close(c.closeReq)
	})
}

// enqueue queues one encoded frame for the writer. It never blocks.
// Overflow policy: a connection whose queue already holds QueueSize frames
// or QueueBytes bytes is a slow consumer; the frame is dropped and the
// connection is reaped (closed 1000 "slow consumer", removed from the
// tables), the way the reference reaps a peer whose send stalls. A write
// that makes no progress for SendTimeout reaps the peer too (writeLoop).
func (c *conn) enqueue(msg []byte) bool {
	c.qmu.Lock()
	if c.qClosed {
		c.qmu.Unlock()
		c.s.stats.dropped.Add(1)
		return false
	}
	if len(c.q) >= c.s.cfg.QueueSize || c.qBytes+int64(len(msg)) > c.s.cfg.QueueBytes {
		c.qmu.Unlock()
		c.s.stats.dropped.Add(1)
		c.reap("send queue full")
		return false
	}
	c.q = append(c.q, msg)
	c.qBytes += int64(len(msg))
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// reap closes a slow consumer (see enqueue): it aborts a write in progress
// and takes the member out of the tables right away, without waiting for its
// goroutines. It never blocks (it may run under Server.mu's read lock).
func (c *conn) reap(why string) {
	if c.closing.Load() {
		return
	}
	c.s.stats.reaped.Add(1)
	c.logger().Warn("relay: slow consumer reaped", "reason", why)
	c.requestClose(websocket.CloseNormalClosure, "slow consumer")
	c.sk.abort()
	go c.s.unregister(c)
}

// take swaps the queue with the (empty) spare slice.
func (c *conn) take(spare [][]byte) [][]byte {
	c.qmu.Lock()
	out := c.q
	c.q = spare
	c.qBytes = 0
	c.qmu.Unlock()
	return out
}

// writeLoop is the connection's only writer: queued frames in batches,
// keepalive pings, and finally the close frame.
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	var tick <-chan time.Time
	if !c.pipe && c.s.cfg.PingInterval > 0 && c.s.cfg.PingTimeout > 0 {
		t := time.NewTicker(c.s.cfg.PingInterval)
		defer t.Stop()
		tick = t.C
	}
	var spare [][]byte
	for {
		select {
		case <-c.closeReq:
			c.finish()
			return
		case <-c.wake:
			batch := c.take(spare)
			if len(batch) == 0 {
				spare = batch
				continue
			}
			err := c.sk.writeBatch(batch, time.Now().Add(c.s.cfg.SendTimeout))
			n := len(batch)
			clear(batch)
			if cap(batch) <= 64 {
				spare = batch[:0]
			} else {
				spare = nil
			}
			if err != nil {
				c.writeFailed(err)
				continue
			}
			c.s.stats.framesOut.Add(uint64(n))
		case <-tick:
			if err := c.sk.ping(time.Now().Add(c.s.cfg.SendTimeout)); err != nil {
				c.writeFailed(err)
			}
		}
	}
}

func (c *conn) writeFailed(err error) {
	if c.closing.Load() {
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.reap("send timeout")
		return
	}
	c.logger().Debug("relay: write failed", "err", err)
	c.requestClose(websocket.CloseNormalClosure, "")
}

// finish sends the close frame, gives the peer closeGrace to answer, then
// closes the transport.
func (c *conn) finish() {
	_ = c.sk.writeClose(c.closeCode, c.closeWhy, time.Now().Add(closeGrace))
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-t.C:
		// No answer yet, and the peer may still be sending (a flood past the
		// rate limit). A close now, with its input unread, would reset the
		// connection and could drop our close frame: half-close and let the
		// reader discard for one more grace period.
		if h, ok := c.sk.(interface{ halfClose(time.Time) }); ok {
			h.halfClose(time.Now().Add(closeGrace))
			<-c.readDone // bounded by that read deadline
		}
	}
	if d, ok := c.sk.(interface{ drain(int64) }); ok && c.linger.Load() {
		d.drain(4 * c.s.cfg.MaxSize) // the reader stopped mid-frame (oversize)
	}
	c.sk.close()
}

// authExpired runs on the auth timer: no identify in time ⇒ close 1000.
func (c *conn) authExpired() {
	if c.auth.CompareAndSwap(authPending, authExpired) {
		c.s.logExpired.log(c.logger(), slog.LevelInfo, "relay: no identify in time, closing")
		c.requestClose(websocket.CloseNormalClosure, "")
	}
}

// run is the reader: it handles frames in arrival order until the transport
// fails, then tears the connection down.
func (c *conn) run() {
	defer c.s.wg.Done()
	c.readLoop()
	c.teardown()
}

func (c *conn) readLoop() {
	defer close(c.readDone)
	for {
		msg, err := c.sk.read()
		if err != nil {
			c.readFailed(err)
			return
		}
		if c.closing.Load() {
			continue // draining until the peer acknowledges our close
		}
		c.s.stats.framesIn.Add(1)
		if !c.rate.allow(time.Since(c.s.epoch)) {
			c.s.stats.rateLimited.Add(1)
			c.s.logRate.log(c.logger(), slog.LevelInfo, "relay: rate limit exceeded", "limit", c.rate.limit)
			c.requestClose(websocket.ClosePolicyViolation, reasonRateLimit)
			continue
		}
		if int64(len(msg)) > c.maxIn { // pipes; gorilla enforces it on sockets
			c.requestClose(websocket.CloseMessageTooBig, "message too big")
			continue
		}
		if !utf8.Valid(msg) {
			// Text or binary: invalid UTF-8 is never parsed or forwarded (the
			// relay sends text frames, and every browser and the Python client
			// drop a connection that receives invalid UTF-8 with 1007).
			c.s.stats.invalidUTF8.Add(1)
			c.s.logUTF8.log(c.logger(), slog.LevelInfo, "relay: invalid UTF-8 in a frame, closing")
			c.requestClose(websocket.CloseInvalidFramePayloadData, reasonInvalidUTF8)
			continue
		}
		c.handle(msg)
	}
}

func (c *conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		c.linger.Store(true)
		c.requestClose(websocket.CloseMessageTooBig, "message too big")
	case c.closing.Load():
		// our close is under way (the writer's final read deadline)
	case errors.As(err, &ne) && ne.Timeout():
		c.logger().Info("relay: keepalive timeout")
		c.requestClose(websocket.CloseInternalServerErr, "keepalive ping timeout")
	default:
		c.requestClose(websocket.CloseNormalClosure, "")
	}
}

// handle processes one inbound message.
func (c *conn) handle(msg []byte) {
	f, err := decodeFrame(msg)
	if err != nil {
		return // invalid or non-object JSON is ignored (§3.1)
	}
	if c.auth.Load() != authDone {
		if f.Type == "identify" && !f.isReply {
			c.identify(f.Frame)
		}
		return // pre-auth gate: nothing but identify (a reply is never a request)
	}
	c.dispatch(f)
}

// identify admits or rejects the connection (§4). Refused tokens count
// against the client IP (authGuard); while the IP is blocked its identifies
// are refused without looking at the token. Neither the token nor any hash
// of it is ever logged.
func (c *conn) identify(f wire.Frame) {
	s := c.s
	now := time.Now()
	var ident identity
	why := ""
	if !c.pipe && s.guard.blocked(c.ip, now) {
		why = reasonUnauthorized
		s.stats.authFailed.Add(1)
		s.logRefused.log(c.logger(), slog.LevelWarn, "relay: identify refused, address blocked after repeated wrong tokens")
	} else {
		ident, why = parseIdentify(f.Payload, c.query, s.pol, s.placeholder)
		switch {
		case why == reasonUnauthorized:
			s.stats.authFailed.Add(1)
			if !c.pipe && s.guard.fail(c.ip, now) {
				s.logRefused.log(c.logger(), slog.LevelWarn, "relay: identify refused, wrong token; address blocked for a while")
			} else {
				s.logRefused.log(c.logger(), slog.LevelInfo, "relay: identify refused", "reason", why)
			}
		case why != "":
			s.logRefused.log(c.logger(), slog.LevelInfo, "relay: identify refused", "reason", why)
		case !c.pipe:
			s.guard.ok(c.ip)
		}
	}
	if why != "" {
		s.releaseSlot(c)
		s.stats.rejected.Add(1)
		c.requestClose(websocket.ClosePolicyViolation, why)
		return
	}
	if !c.auth.CompareAndSwap(authPending, authDone) {
		return // the auth timer won
	}
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	// Identified: frames up to MaxSize from now on.
	c.maxIn = s.cfg.MaxSize
	if l, ok := c.sk.(interface{ setReadLimit(int64) }); ok {
		l.setReadLimit(s.cfg.MaxSize)
	}
	s.register(c, ident)
}

// teardown removes the connection from every table once its reader stopped.
func (c *conn) teardown() {
	c.requestClose(websocket.CloseNormalClosure, "")
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	s := c.s
	s.mu.Lock()
	delete(s.live, c)
	s.releaseSlotLocked(c)
	if c.counted {
		c.counted = false
		s.open--
		if c.pipe {
			s.openPipes--
		}
	}
	if c.registered {
		s.removeLocked(c)
		s.pushRosterLocked()
		c.logger().Info("relay: left", "channel", c.ident.channel)
	}
	s.mu.Unlock()
	c.failPending()
}

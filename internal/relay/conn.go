package relay

import (
	"container/list"
	"context"
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

	names atomic.Pointer[[2]string] // id and name for log lines, set at admission

	// Owned by the reader goroutine.
	rate       rateWindow
	authTimer  *time.Timer
	maxIn      int64  // largest frame accepted now: PreAuthMaxSize, MaxSize after identify
	handedOver bool   // the reader moved to a fresh goroutine after identify
	first      []byte // welcome, written by the reader itself (sendFirst)

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

	qmu         sync.Mutex // guards the fields up to closeWanted
	q           []outMsg
	qBytes      int64
	qClosed     bool
	writing     bool // a writer goroutine runs (it exits after writerLinger idle)
	pingWanted  bool
	pong        *string // a ping to answer (its data), written by the writer
	closeWanted bool
	wake        chan struct{} // cap 1, never closed: work for a lingering writer

	pingTimer atomic.Pointer[time.Timer] // sockets: keepalive

	closing   atomic.Bool
	linger    atomic.Bool // the reader stopped mid-frame (oversize): drain before closing
	closeOnce sync.Once
	closeCode int           // written before closeWanted is set
	closeWhy  string        // ditto
	readDone  chan struct{} // closed when the reader stops reading
}

func (s *Server) newConn(sk sock, ip, query string, pipe bool) *conn {
	c := &conn{
		s: s, sk: sk, ip: ip, query: query, pipe: pipe,
		born:     time.Now(),
		wake:     make(chan struct{}, 1),
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
	return c
}

// logger returns the server's logger with this connection's address, and
// id and name once admitted. It is built per call (log lines are rare), so
// an idle member keeps no logger of its own.
func (c *conn) logger() *slog.Logger {
	if n := c.names.Load(); n != nil {
		return c.s.log.With("remote", c.ip, "id", n[0], "name", n[1])
	}
	return c.s.log.With("remote", c.ip)
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
//
// Once a socket is identified, the reader hands over to a fresh goroutine:
// identify's deep path (JSON, logging) has grown this one's stack, and an
// idle member should cost a small stack, not that one.
func (c *conn) run() {
	defer c.s.wg.Done()
	if c.readLoop() {
		c.s.wg.Add(1) // our own slot is still held: no race with Close's Wait
		go c.run()
		return
	}
	c.teardown()
}

// readLoop reads and handles frames; it returns true (without closing
// readDone) when the reader should go on on a fresh goroutine.
func (c *conn) readLoop() (handOver bool) {
	for {
		msg, err := c.sk.read()
		if err != nil {
			c.readFailed(err)
			close(c.readDone)
			return false
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
		if !c.pipe && !c.handedOver && c.auth.Load() == authDone {
			c.handedOver = true
			return true
		}
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
	c.writeFirst()
	if n, ok := s.cfg.Credentials.(Namer); ok && ident.viaCreds {
		n.Named(ident.token, ident.name)
	}
}

// teardown removes the connection from every table once its reader stopped.
func (c *conn) teardown() {
	c.requestClose(websocket.CloseNormalClosure, "")
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	if t := c.pingTimer.Load(); t != nil {
		t.Stop()
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
	left := c.registered
	if left {
		s.removeLocked(c)
		s.pushRosterLocked()
	}
	s.mu.Unlock()
	if left {
		c.logger().Log(context.Background(), memberLevel(c.pipe, c.ident.name), "relay: left", "channel", c.ident.channel)
	}
	c.failPending()
}

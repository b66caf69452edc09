package relay

import (
	"bufio"
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Server is the relay. It is an http.Handler that upgrades any path to a
// WebSocket; it never listens itself. All methods may be called concurrently.
//
// Lock order: Server.mu, then conn.pmu or conn.qmu (never both of those at
// once). No lock is held while writing to a socket: writes happen only on
// each connection's writer goroutine, outside every lock but the bufConn's.
type Server struct {
	// Immutable after New.
	cfg      Config
	log      *slog.Logger
	pol      *policy
	trusted  []netip.Prefix
	origins  map[string]bool
	upgrader websocket.Upgrader
	ids      *idGen
	epoch    time.Time
	batchBuf sync.Pool // *[]byte batch buffers for bufConn
	weak     bool      // the configured token is shorter than MinTokenLength
	warnings []string

	stats counters
	guard *authGuard
	// Gates for log lines any client can trigger at will.
	logRefused, logExpired, logRate, logUTF8 logGate

	mu        sync.RWMutex // guards the fields below
	closed    bool
	live      map[*conn]struct{} // every connection goroutine pair, admitted or not
	open      int                // admitted sockets and pipes
	openPipes int                // the pipes among open (exempt from MaxConnections)
	pendingIP map[string]int     // unidentified admitted connections per client IP
	pendingQ  list.List          // unidentified admitted sockets (not pipes), oldest first
	byID      map[string]*conn
	byName    map[string]*conn
	all       []*conn                    // registered members, join order
	byChan    map[string][]*conn         // registered members per channel, join order
	monitors  []*conn                    // registered members with can_monitor
	view      atomic.Pointer[memberView] // all and byChan for fan-out, published under mu

	wg sync.WaitGroup // per connection: the reader, and the writer while one runs
}

// New builds a relay from cfg (zero fields take their defaults) that logs to
// logger (nil discards).
func New(cfg Config, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.fill()
	trusted, err := parsePrefixes(cfg.TrustedProxies)
	if err != nil {
		logger.Warn("relay: ignoring bad trusted_proxies", "err", err)
		trusted = nil
	}
	s := &Server{
		cfg:       cfg,
		log:       logger,
		pol:       newPolicy(&cfg),
		guard:     newAuthGuard(&cfg),
		trusted:   trusted,
		origins:   make(map[string]bool),
		ids:       newIDGen(),
		epoch:     time.Now(),
		live:      make(map[*conn]struct{}),
		pendingIP: make(map[string]int),
		byID:      make(map[string]*conn),
		byName:    make(map[string]*conn),
		byChan:    make(map[string][]*conn),
	}
	for _, o := range cfg.AllowedOrigins {
		s.origins[normOrigin(o)] = true
	}
	s.view.Store(&memberView{})
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   512, // per idle member; larger frames are read past it
		WriteBufferSize:  4096,
		WriteBufferPool:  &sync.Pool{},
		CheckOrigin:      func(*http.Request) bool { return true }, // checked after the upgrade, so the client sees 1008
	}
	if cfg.MemoryLimitMB > 0 && debug.SetMemoryLimit(-1) == math.MaxInt64 { // GOMEMLIMIT wins
		debug.SetMemoryLimit(int64(cfg.MemoryLimitMB) << 20)
		logger.Info("relay: soft memory limit set", "mib", cfg.MemoryLimitMB)
	}
	switch n := utf8.RuneCountInString(cfg.AuthToken); {
	case cfg.AuthToken == "" && cfg.Credentials == nil:
		logger.Info("relay: no auth token configured, every client is admitted")
		s.warnings = append(s.warnings, "no token is configured: anyone who can reach the relay is a full member")
	case cfg.AuthToken != "" && n < MinTokenLength:
		s.weak = true
		w := fmt.Sprintf("the configured token has only %d characters: anyone on the network can guess it; use at least %d random characters", n, MinTokenLength)
		logger.Warn("relay: WEAK TOKEN: " + w)
		s.warnings = append(s.warnings, w)
	}
	return s
}

// Config returns the effective configuration (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// ServeHTTP upgrades the request to a WebSocket and returns; the connection
// is served by its own goroutines until it closes (Close waits for them). A
// plain HTTP request gets 426 Upgrade Required, and any request after Close
// 503.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "meshbox relay: open a WebSocket here", http.StatusUpgradeRequired)
		return
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		http.Error(w, "relay shutting down", http.StatusServiceUnavailable)
		return
	}
	hj := &hijacker{ResponseWriter: w, pool: &s.batchBuf}
	ws, err := s.upgrader.Upgrade(hj, r, nil)
	if err != nil {
		s.log.Debug("relay: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	ws.SetReadLimit(s.cfg.PreAuthMaxSize) // raised to MaxSize after identify
	sk := &wsSock{ws: ws, bc: hj.bc}
	if s.cfg.PingInterval > 0 && s.cfg.PingTimeout > 0 {
		sk.idle = s.cfg.PingInterval + s.cfg.PingTimeout
		_ = ws.SetReadDeadline(time.Now().Add(sk.idle))
		ws.SetPongHandler(func(string) error {
			return ws.SetReadDeadline(time.Now().Add(sk.idle))
		})
	}
	c := s.newConn(sk, clientIP(r, s.trusted), r.URL.Query().Get("token"), false)
	ws.SetPingHandler(c.pingReceived)
	if !s.start(c, r.Header.Get("Origin")) {
		_ = sk.writeClose(websocket.CloseGoingAway, "server shutting down", time.Now().Add(time.Second))
		sk.close()
		return
	}
	// The reader runs on its own goroutine so that net/http's connection
	// goroutine, with its buffers and grown stack, ends now: an idle member
	// then costs one small goroutine and a few KB (see the package doc).
	go c.run()
}

// start registers the connection's goroutines and applies the admission
// rules (§18 items 2–3). It reports false when the server is closed; then
// nothing was started.
func (s *Server) start(c *conn, origin string) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.live[c] = struct{}{}
	s.wg.Add(1) // the reader; a writer goroutine adds itself (kickLocked)
	code, why := s.admitLocked(c)
	s.mu.Unlock()
	if code == 0 && !c.pipe && !originAllowed(origin, s.origins) {
		code, why = 1008, reasonOrigin
	}
	if code == 0 && !c.pipe && s.cfg.PingInterval > 0 && s.cfg.PingTimeout > 0 {
		c.pingTimer.Store(time.AfterFunc(s.cfg.PingInterval, c.pingDue))
	}
	if code != 0 {
		s.stats.rejected.Add(1)
		c.logger().Debug("relay: connection refused", "code", code, "reason", why) // Debug: a flood must not flood the log
		c.requestClose(code, why)
	} else {
		c.authTimer = time.AfterFunc(s.cfg.AuthTimeout, c.authExpired)
	}
	return true
}

// admitLocked applies the caps to a new connection and counts it, or
// returns the close code and reason. MESH_MAX_CONNECTIONS caps open sockets
// as in the reference relay (in-process members neither take a socket's
// slot nor can be locked out by a socket flood); the per-IP pending cap is
// the reference rule. Then the global pending cap (MaxPending, well below
// MaxConnections) evicts the oldest unidentified socket, so unidentified
// sockets from any number of addresses never fill MaxConnections.
func (s *Server) admitLocked(c *conn) (int, string) {
	if !c.pipe && s.cfg.MaxConnections > 0 && s.open-s.openPipes >= s.cfg.MaxConnections {
		return 4429, reasonTooManyConns
	}
	if s.cfg.MaxPendingPerIP > 0 && s.pendingIP[c.ip] >= s.cfg.MaxPendingPerIP {
		return 4429, reasonTooManyPending
	}
	if !c.pipe {
		if s.cfg.MaxPending > 0 && s.pendingQ.Len() >= s.cfg.MaxPending {
			s.evictOldestLocked()
		}
	}
	s.open++
	if c.pipe {
		s.openPipes++
	} else {
		c.pendEl = s.pendingQ.PushBack(c)
	}
	s.pendingIP[c.ip]++
	c.counted, c.holdsSlot = true, true
	s.stats.accepted.Add(1)
	return 0, ""
}

// evictOldestLocked closes the oldest unidentified socket and uncounts it at
// once (its goroutines finish on their own).
func (s *Server) evictOldestLocked() {
	e := s.pendingQ.Front()
	if e == nil {
		return
	}
	v := e.Value.(*conn)
	s.releaseSlotLocked(v)
	if v.counted {
		v.counted = false
		s.open--
	}
	v.evicted = true // register refuses it even if its identify is in flight
	s.stats.evicted.Add(1)
	v.requestClose(4429, reasonTooManyPending)
}

// Close closes every connection with 1001 (going away), refuses new ones and
// waits until all connection goroutines have finished or ctx is done (then
// the remaining sockets are torn down hard and ctx's error is returned).
// Close is idempotent.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for c := range s.live {
			c.requestClose(websocket.CloseGoingAway, "server shutting down")
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.RLock()
	for c := range s.live {
		c.sk.close()
	}
	s.mu.RUnlock()
	<-done
	return fmt.Errorf("relay close: %w", ctx.Err())
}

// hijacker hands gorilla a bufConn instead of the raw net.Conn.
type hijacker struct {
	http.ResponseWriter
	pool *sync.Pool
	bc   *bufConn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.bc = &bufConn{Conn: nc, pool: h.pool}
	return h.bc, brw, nil
}

package httpserve

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxConns          = 256
)

// Options configures a Server; zero fields take the defaults.
type Options struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration // whole request, body included
	WriteTimeout      time.Duration // from the end of the request headers to the end of the reply
	IdleTimeout       time.Duration // keep-alive; capped at DefaultIdleTimeout
	MaxConns          int           // plain-HTTP connections open at once
	Logger            *slog.Logger
}

// Stats counts connections.
type Stats struct {
	Open     int    // plain-HTTP connections open now
	Idle     int    // of which idle (keep-alive between requests)
	Hijacked uint64 // handed to a WebSocket so far
	Evicted  uint64 // idle connections closed to make room
	Refused  uint64 // new connections closed because none was idle
}

// Server is an http.Server with the timeouts and the connection cap.
type Server struct {
	srv *http.Server
	max int
	log *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]*connInfo // plain-HTTP connections, by the server's conn

	hijacked, evicted, refused atomic.Uint64
}

type connInfo struct {
	idle      bool
	idleSince time.Time
}

// New makes a Server for h.
func New(h http.Handler, o Options) *Server {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	o.IdleTimeout = min(o.IdleTimeout, DefaultIdleTimeout)
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{max: o.MaxConns, log: o.Logger, conns: make(map[net.Conn]*connInfo)}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		ConnState:         s.connState,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	return s
}

// HTTP is the underlying server (for its settings; do not replace
// ConnState).
func (s *Server) HTTP() *http.Server { return s.srv }

// Serve accepts connections on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting and waits for active requests (hijacked
// connections are the relay's to close).
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close closes the listeners and every plain-HTTP connection.
func (s *Server) Close() error { return s.srv.Close() }

// Stats returns the connection counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{Open: len(s.conns)}
	for _, ci := range s.conns {
		if ci.idle {
			st.Idle++
		}
	}
	s.mu.Unlock()
	st.Hijacked, st.Evicted, st.Refused = s.hijacked.Load(), s.evicted.Load(), s.refused.Load()
	return st
}

// connState is the accounting; it runs on the server's goroutines and
// closes a connection only after releasing the lock.
func (s *Server) connState(c net.Conn, st http.ConnState) {
	var victim net.Conn
	s.mu.Lock()
	switch st {
	case http.StateNew:
		s.conns[c] = &connInfo{}
		if len(s.conns) > s.max {
			victim = s.oldestIdle()
			if victim == nil {
				victim = c
				s.refused.Add(1)
			} else {
				s.evicted.Add(1)
			}
			delete(s.conns, victim) // its StateClosed finds nothing
		}
	case http.StateActive:
		if ci := s.conns[c]; ci != nil {
			ci.idle = false
		}
	case http.StateIdle:
		if ci := s.conns[c]; ci != nil {
			ci.idle, ci.idleSince = true, time.Now()
		}
	case http.StateHijacked:
		if _, ok := s.conns[c]; ok {
			s.hijacked.Add(1)
		}
		delete(s.conns, c)
	case http.StateClosed:
		delete(s.conns, c)
	}
	s.mu.Unlock()
	if victim != nil {
		_ = victim.Close()
		if victim == c {
			s.log.Debug("http: connection refused: too many open connections, none idle", "remote", c.RemoteAddr().String(), "max", s.max)
		}
	}
}

// oldestIdle is the connection idle longest (nil when none). Guarded by s.mu.
func (s *Server) oldestIdle() net.Conn {
	var (
		best  net.Conn
		since time.Time
	)
	for c, ci := range s.conns {
		if ci.idle && (best == nil || ci.idleSince.Before(since)) {
			best, since = c, ci.idleSince
		}
	}
	return best
}

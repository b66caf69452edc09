package relay

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// authGuard throttles token guessing per client IP: after Config.AuthFailures
// refused tokens, the address is blocked for AuthFailBlock, doubling with
// each further failure (at most maxFailBlock); while blocked, every identify
// from it is refused "unauthorized" without looking at the token. A success
// clears the record; a record is forgotten failForget after its last failure.
type authGuard struct {
	free  int // failures allowed before blocking; <= 0 disables
	base  time.Duration
	limit int // records kept (bounded memory under a spoofed-address flood)

	mu sync.Mutex // guards m
	m  map[string]*failRec
}

type failRec struct {
	n     int
	last  time.Time
	until time.Time
}

const (
	maxFailBlock   = 5 * time.Minute
	failForget     = 10 * time.Minute
	maxFailRecords = 4096
)

func newAuthGuard(cfg *Config) *authGuard {
	return &authGuard{free: cfg.AuthFailures, base: cfg.AuthFailBlock, limit: maxFailRecords, m: make(map[string]*failRec)}
}

// blocked reports whether ip may not identify now.
func (g *authGuard) blocked(ip string, now time.Time) bool {
	if g.free <= 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.m[ip]
	return r != nil && now.Before(r.until)
}

// fail records a refused token from ip and reports whether ip is now blocked.
func (g *authGuard) fail(ip string, now time.Time) bool {
	if g.free <= 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.m[ip]
	if r != nil && now.Sub(r.last) > failForget {
		r = nil
	}
	if r == nil {
		if len(g.m) >= g.limit {
			g.pruneLocked(now)
		}
		r = &failRec{}
		g.m[ip] = r
	}
	r.n++
	r.last = now
	if over := r.n - g.free; over > 0 {
		d := g.base << min(over-1, 20)
		if d > maxFailBlock || d <= 0 {
			d = maxFailBlock
		}
		r.until = now.Add(d)
		return true
	}
	return false
}

// ok clears ip's record after a successful identify.
func (g *authGuard) ok(ip string) {
	if g.free <= 0 {
		return
	}
	g.mu.Lock()
	delete(g.m, ip)
	g.mu.Unlock()
}

// pruneLocked drops forgotten records, and if that is not enough, any
// records that are not blocking right now, then any at all.
func (g *authGuard) pruneLocked(now time.Time) {
	for ip, r := range g.m {
		if now.Sub(r.last) > failForget {
			delete(g.m, ip)
		}
	}
	for ip, r := range g.m {
		if len(g.m) < g.limit {
			return
		}
		if !now.Before(r.until) {
			delete(g.m, ip)
		}
	}
	for ip := range g.m {
		if len(g.m) < g.limit {
			return
		}
		delete(g.m, ip)
	}
}

// logGate rate-limits one kind of log line that a client can trigger at
// will (refused identifies, auth timeouts, rate-limit closes): a burst of
// gateBurst lines, then one per gateEvery; the next line that passes says
// how many were suppressed.
type logGate struct {
	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

const (
	gateBurst = 5
	gateEvery = 2 * time.Second
)

func (g *logGate) log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	now := time.Now()
	g.mu.Lock()
	if g.last.IsZero() {
		g.tokens = gateBurst
	} else {
		g.tokens = min(gateBurst, g.tokens+float64(now.Sub(g.last))/float64(gateEvery))
	}
	g.last = now
	if g.tokens < 1 {
		g.suppressed++
		g.mu.Unlock()
		return
	}
	g.tokens--
	n := g.suppressed
	g.suppressed = 0
	g.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	l.Log(context.Background(), level, msg, args...)
}

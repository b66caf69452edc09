package bridge

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Log-line budget for command outcomes: per requester, and for all of them
// together (the requester name comes from the client, so a phone varying it
// still cannot flood the journal).
const (
	logBurstClient = 5   // lines at once per requester
	logRateClient  = 1.0 // lines per second per requester, sustained
	logBurstAll    = 20
	logRateAll     = 5.0
	logMaxClients  = 256 // requesters remembered; idle ones are forgotten first
)

// logBucket is a token bucket: of log lines here, of commands per serial
// device in serial.go.
type logBucket struct {
	tokens     float64
	last       time.Time
	suppressed int // lines dropped since the last one logged
}

func (k *logBucket) take(now time.Time, burst, rate float64) bool {
	if k.last.IsZero() {
		k.tokens = burst
	} else {
		k.tokens = min(burst, k.tokens+now.Sub(k.last).Seconds()*rate)
	}
	k.last = now
	if k.tokens < 1 {
		return false
	}
	k.tokens--
	return true
}

// logLimiter rate-limits the "command refused" / "command failed" lines.
type logLimiter struct {
	now func() time.Time // time.Now; tests replace it

	mu        sync.Mutex
	clients   map[string]*logBucket
	all       logBucket
	forgotten int // suppressed lines of requesters forgotten since
}

// allow reports whether a line for from may be logged now, and how many
// lines were suppressed before it (for this requester, plus those of
// forgotten requesters).
func (l *logLimiter) allow(from string) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	if l.clients == nil {
		l.clients = make(map[string]*logBucket)
	}
	c := l.clients[from]
	if c == nil {
		if len(l.clients) >= logMaxClients {
			l.prune(now)
		}
		c = &logBucket{}
		l.clients[from] = c
	}
	if !c.take(now, logBurstClient, logRateClient) || !l.all.take(now, logBurstAll, logRateAll) {
		c.suppressed++
		return false, 0
	}
	suppressed = c.suppressed + l.forgotten
	c.suppressed, l.forgotten = 0, 0
	return true, suppressed
}

// prune forgets requesters whose bucket has refilled; if none has, it
// forgets them all (their suppressed counts are carried over).
func (l *logLimiter) prune(now time.Time) {
	full := float64(logBurstClient) / logRateClient
	for k, c := range l.clients {
		if c.suppressed == 0 && now.Sub(c.last).Seconds() >= full {
			delete(l.clients, k)
		}
	}
	if len(l.clients) < logMaxClients {
		return
	}
	for k, c := range l.clients {
		l.forgotten += c.suppressed
		delete(l.clients, k)
	}
}

// logOutcome logs a failed command: a refusal caused by the client
// (unknown target or command, read-only target, bad value, rate limited)
// at INFO as "command refused", a hardware error at WARN as "command
// failed", shutdown at DEBUG. Lines are rate-limited per requester (from);
// the next line logged carries the number suppressed before it.
func (b *Bridge) logOutcome(from, command, target string, err error) {
	if err == nil {
		return
	}
	if errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		b.log.Debug("command not applied", "target", target, "from", from, "reason", err.Error())
		return
	}
	ok, suppressed := b.logLimit.allow(from)
	if !ok {
		return
	}
	level, msg := slog.LevelInfo, "command refused"
	if errors.Is(err, ErrHardware) {
		level, msg = slog.LevelWarn, "command failed"
	}
	attrs := make([]slog.Attr, 0, 5)
	if command != "" {
		attrs = append(attrs, slog.String("command", command))
	}
	attrs = append(attrs, slog.String("target", target), slog.String("from", from), slog.String("reason", err.Error()))
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	b.log.LogAttrs(context.Background(), level, msg, attrs...)
}

// Package logtest captures log output in tests: a goroutine-safe writer that
// keeps every line, can wait for lines to appear, and gives a *slog.Logger
// that also copies to the test's output.
package logtest

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tail keeps every line written to it. It is safe for concurrent use.
type Tail struct {
	t testing.TB

	mu    sync.Mutex
	lines []string
	raw   strings.Builder
	ch    chan struct{} // signalled after each write; never closed
}

// New returns an empty Tail for t.
func New(t testing.TB) *Tail { return &Tail{t: t, ch: make(chan struct{}, 1)} }

// Logger returns a text logger that writes to the Tail and to t.Output().
func (l *Tail) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(l.t.Output(), l), nil))
}

// Write stores p, split into lines.
func (l *Tail) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.raw.Write(p)
	l.lines = append(l.lines, strings.Split(strings.TrimRight(string(p), "\n"), "\n")...)
	l.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	default:
	}
	return len(p), nil
}

// String returns everything written so far.
func (l *Tail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.raw.String()
}

// Matching returns the lines holding every one of subs.
func (l *Tail) Matching(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, ln := range l.lines {
		for _, s := range subs {
			if !strings.Contains(ln, s) {
				continue next
			}
		}
		out = append(out, ln)
	}
	return out
}

// WaitLines waits until n lines hold every one of subs and returns them; it
// fails the test after timeout.
func (l *Tail) WaitLines(n int, timeout time.Duration, subs ...string) []string {
	l.t.Helper()
	deadline := time.After(timeout)
	for {
		if m := l.Matching(subs...); len(m) >= n {
			return m
		}
		select {
		case <-l.ch:
		case <-deadline:
			l.t.Fatalf("no %d log lines with %q within %v; got %d", n, subs, timeout, len(l.Matching(subs...)))
		}
	}
}

package mqttlink

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logTail keeps every log line written, for tests that assert on what a
// link reported, and copies it to the test output.
type logTail struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
	ch    chan struct{}
}

func newLogTail(t testing.TB) *logTail { return &logTail{t: t, ch: make(chan struct{}, 1)} }

func (l *logTail) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(l.t.Output(), l), nil))
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, strings.Split(strings.TrimRight(string(p), "\n"), "\n")...)
	l.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	default:
	}
	return len(p), nil
}

// matching returns the lines holding every one of subs.
func (l *logTail) matching(subs ...string) []string {
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

// waitLines waits until n lines hold every one of subs and returns them.
func (l *logTail) waitLines(n int, timeout time.Duration, subs ...string) []string {
	l.t.Helper()
	deadline := time.After(timeout)
	for {
		if m := l.matching(subs...); len(m) >= n {
			return m
		}
		select {
		case <-l.ch:
		case <-deadline:
			l.t.Fatalf("no %d log lines with %q within %v; got %d", n, subs, timeout, len(l.matching(subs...)))
		}
	}
}

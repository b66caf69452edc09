package meshsocket

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logRec records log records.
type logRec struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRec) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRec) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *logRec) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRec) WithGroup(string) slog.Handler      { return h }

func (h *logRec) find(sub string) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.recs {
		if strings.Contains(r.Message, sub) {
			out = append(out, r)
		}
	}
	return out
}

// A relay closing with 1001 (going away) is logged at INFO, not WARN.
func TestGoingAwayIsInfo(t *testing.T) {
	r := startRelay(t, relayImpls()[0], testToken)
	rec := &logRec{}
	opts := fastOpts(r.url(), "n")
	opts.MinBackoff, opts.MaxBackoff = time.Second, time.Second // one redial line before the test ends
	opts.Logger = slog.New(rec)
	down := make(chan error, 4)
	opts.OnDisconnect = func(err error) { down <- err }
	c := startClient(t, opts)
	r.stop() // closes every connection with 1001
	select {
	case <-down:
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.find("redialing")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no redialing line")
		}
		time.Sleep(5 * time.Millisecond)
	}
	first := rec.find("redialing")[0]
	if first.Level != slog.LevelInfo || !strings.Contains(first.Message, "relay is going away") {
		t.Errorf("after a 1001 close logged %v %q, want INFO relay is going away", first.Level, first.Message)
	}
	_ = c.Close()
}

// Closing the client logs no "redialing" line.
func TestCloseLogsNoRedial(t *testing.T) {
	r := startRelay(t, relayImpls()[0], testToken)
	rec := &logRec{}
	opts := fastOpts(r.url(), "n")
	opts.Logger = slog.New(rec)
	c := startClient(t, opts)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rec.find("redial"); len(got) > 0 {
		t.Errorf("Close logged %q at %v", got[0].Message, got[0].Level)
	}
	if got := rec.find("disconnected"); len(got) != 1 {
		t.Errorf("Close logged %d disconnected lines, want 1", len(got))
	}
}

package logtest

import (
	"strings"
	"testing"
	"time"
)

func TestTail(t *testing.T) {
	l := New(t)
	log := l.Logger()
	go func() {
		time.Sleep(10 * time.Millisecond)
		log.Info("ready", "port", 1)
		log.Warn("slow", "port", 2)
	}()
	got := l.WaitLines(1, 5*time.Second, "level=WARN", "slow")
	if len(got) != 1 || !strings.Contains(got[0], "port=2") {
		t.Fatalf("WaitLines = %q", got)
	}
	if m := l.Matching("port="); len(m) != 2 {
		t.Errorf("Matching(port=) = %q, want both lines", m)
	}
	if s := l.String(); !strings.Contains(s, "msg=ready") || !strings.HasSuffix(s, "\n") {
		t.Errorf("String() = %q", s)
	}
	l.Write([]byte("a\nb\n"))
	if m := l.Matching("b"); len(m) != 1 || m[0] != "b" {
		t.Errorf("multi-line write split = %q", m)
	}
}

package pairing

import (
	"context"
	"testing"
	"time"
)

// TestWindowWatch: Watch reports the boot state, the window running out on
// its own, a reopen with its reason and length, an extension of an open
// window, and Close; nothing when nothing changed.
func TestWindowWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w := NewWindow(150*time.Millisecond, false, nil)
	changes := make(chan Change, 16)
	done := make(chan struct{})
	go func() { defer close(done); w.Watch(ctx, func(c Change) { changes <- c }) }()
	next := func(what string) Change {
		t.Helper()
		select {
		case c := <-changes:
			return c
		case <-ctx.Done():
			t.Fatalf("no change reported: %s", what)
		}
		return Change{}
	}
	if c := next("boot"); !c.Open || c.Reason != "boot" || c.For <= 0 || c.For > 150*time.Millisecond || c.Until.IsZero() {
		t.Fatalf("boot state %+v", c)
	}
	if c := next("runs out"); c.Open || !c.Until.IsZero() || c.For != 0 {
		t.Fatalf("after the window ran out: %+v", c)
	}
	if w.IsOpen() {
		t.Fatal("reported closed while IsOpen")
	}
	w.Close() // already closed: no report
	until := w.OpenBy("the pairing button")
	if c := next("reopen"); !c.Open || c.Reason != "the pairing button" || !c.Until.Equal(until) || c.For <= 0 {
		t.Fatalf("reopen: %+v", c)
	}
	time.Sleep(5 * time.Millisecond)
	until = w.Open() // extends the open window
	if c := next("extend"); !c.Open || c.Reason != "" || !c.Until.Equal(until) {
		t.Fatalf("extend: %+v", c)
	}
	w.Close()
	if c := next("close"); c.Open {
		t.Fatalf("close: %+v", c)
	}
	select {
	case c := <-changes:
		t.Fatalf("spurious change %+v", c)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	<-done
}

func TestWindowWatchAlways(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := NewWindow(time.Millisecond, true, nil)
	changes := make(chan Change, 4)
	done := make(chan struct{})
	go func() { defer close(done); w.Watch(ctx, func(c Change) { changes <- c }) }()
	if c := <-changes; !c.Open || !c.Always || !c.Until.IsZero() {
		t.Fatalf("always-open state %+v", c)
	}
	select {
	case c := <-changes:
		t.Fatalf("an always-open window changed: %+v", c)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	<-done
}

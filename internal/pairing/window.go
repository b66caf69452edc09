package pairing

import (
	"context"
	"sync"
	"time"
)

// DefaultWindow is how long pairing stays open after boot or a button press.
const DefaultWindow = 10 * time.Minute

// Window decides when the token may be shown (the QR on the page). It opens
// when created (boot) and again on Open (the pairing button); Always keeps it
// open. Safe for concurrent use.
type Window struct {
	length time.Duration
	always bool
	now    func() time.Time

	mu     sync.Mutex
	until  time.Time
	reason string        // who opened it last ("boot", OpenBy's reason)
	wake   chan struct{} // closed and replaced on every Open/Close (Watch)
}

// Change is one transition reported by Watch.
type Change struct {
	Open   bool          // open after the change
	Always bool          // configured always open
	Until  time.Time     // when it closes (zero when closed or always open)
	For    time.Duration // how long it stays open from now (0 when closed or always)
	Reason string        // why it opened ("boot", or OpenBy's reason; "" for Open)
}

// NewWindow returns a window open for length from now (DefaultWindow when
// length <= 0). now is the clock (time.Now when nil).
func NewWindow(length time.Duration, always bool, now func() time.Time) *Window {
	if length <= 0 {
		length = DefaultWindow
	}
	if now == nil {
		now = time.Now
	}
	w := &Window{length: length, always: always, now: now, reason: "boot", wake: make(chan struct{})}
	w.until = now().Add(length)
	return w
}

// Open (re)opens the window for its full length and returns when it closes.
func (w *Window) Open() time.Time { return w.OpenBy("") }

// OpenBy is Open with the reason Watch reports (for example "the pairing
// button").
func (w *Window) OpenBy(reason string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.until = w.now().Add(w.length)
	w.reason = reason
	w.notify()
	return w.until
}

// Close closes the window now (unless it is configured always open).
func (w *Window) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.until = time.Time{}
	w.notify()
}

// notify wakes every Watch; w.mu is held.
func (w *Window) notify() {
	close(w.wake)
	w.wake = make(chan struct{})
}

// IsOpen reports whether pairing is open now.
func (w *Window) IsOpen() bool {
	if w.always {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now().Before(w.until)
}

// Always reports whether the window is configured always open.
func (w *Window) Always() bool { return w.always }

// Until returns when the window closes (zero when always open or closed).
func (w *Window) Until() time.Time {
	if w.always {
		return time.Time{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.now().Before(w.until) {
		return time.Time{}
	}
	return w.until
}

// Length is the configured window length.
func (w *Window) Length() time.Duration { return w.length }

// state returns the current state and the channel closed on the next
// Open/Close.
func (w *Window) state() (Change, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := Change{Always: w.always, Reason: w.reason}
	now := w.now()
	switch {
	case w.always:
		c.Open = true
	case now.Before(w.until):
		c.Open, c.Until, c.For = true, w.until, w.until.Sub(now)
	}
	return c, w.wake
}

// Watch calls fn with the state at once, then on every change until ctx
// ends: each Open/OpenBy (also one that extends an open window) and the
// moment the window closes, by Close or by running out. The closing time is
// measured on the real clock. fn runs on Watch's goroutine; Watch returns
// when ctx is done.
func (w *Window) Watch(ctx context.Context, fn func(Change)) {
	cur, wake := w.state()
	fn(cur)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var expire <-chan time.Time
		if cur.Open && !cur.Always {
			timer.Reset(cur.For)
			expire = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-expire:
		}
		next, nextWake := w.state()
		wake = nextWake
		// A wake always reports (a reopen extends the window); the timer
		// only when the window really closed.
		if next.Open != cur.Open || !next.Until.Equal(cur.Until) {
			fn(next)
		}
		cur = next
	}
}

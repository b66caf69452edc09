package pairing

import (
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

	mu    sync.Mutex
	until time.Time
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
	w := &Window{length: length, always: always, now: now}
	w.until = now().Add(length)
	return w
}

// Open (re)opens the window for its full length and returns when it closes.
func (w *Window) Open() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.until = w.now().Add(w.length)
	return w.until
}

// Close closes the window now (unless it is configured always open).
func (w *Window) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.until = time.Time{}
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

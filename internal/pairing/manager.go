package pairing

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/meshbox/meshbox/internal/auth"
)

// Manager hands out member tokens while the pairing window is open: the
// controller token the QR carries (minted when first needed, replaced as
// soon as a phone used it, so every phone gets its own revocable token) and
// one token per page session. They are pending in the store until used and
// dropped when the window closes. While the window is closed it hands out
// nothing.
type Manager struct {
	w     *Window
	store *auth.Store
	log   *slog.Logger

	mu       sync.Mutex
	qrID     string
	qrSecret string
}

// NewManager returns the manager of w's tokens. Without a store (an open
// relay) it never mints: there is nothing to hand out.
func NewManager(w *Window, store *auth.Store, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{w: w, store: store, log: log}
}

// Window is the pairing window.
func (m *Manager) Window() *Window { return m.w }

// Open reports whether pairing is open now.
func (m *Manager) Open() bool { return m.w != nil && m.w.IsOpen() }

// QRToken returns the controller token for the QR while pairing is open
// (ok false when closed or when there is no store).
func (m *Manager) QRToken() (secret string, ok bool) {
	if !m.Open() || m.store == nil {
		return "", false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.qrID != "" && m.store.IsPending(m.qrID) {
		return m.qrSecret, true
	}
	sec, tok, err := m.store.MintQR(auth.ScopeController, "phone (pairing QR)", m.w.Until())
	if err != nil {
		m.log.Error("pairing: cannot mint a token", "err", err)
		return "", false
	}
	m.qrID, m.qrSecret = tok.ID, sec
	return sec, true
}

// QRVersion changes whenever the QR's token changes (the page reloads the
// image); "" while closed.
func (m *Manager) QRVersion() string {
	if !m.Open() {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.qrID != "" && m.store != nil && !m.store.IsPending(m.qrID) {
		return m.qrID + "-used"
	}
	return m.qrID
}

// PageToken mints a controller token for one page session while pairing is
// open (the browser keeps it, like a phone).
func (m *Manager) PageToken() (string, bool) {
	if !m.Open() || m.store == nil {
		return "", false
	}
	sec, _, err := m.store.MintPending(auth.ScopeController, "browser page", m.w.Until())
	if err != nil {
		m.log.Error("pairing: cannot mint a token", "err", err)
		return "", false
	}
	return sec, true
}

// OpenBy opens (or extends) the window and returns the QR token.
func (m *Manager) OpenBy(reason string) (string, error) {
	if m.w == nil {
		return "", fmt.Errorf("no pairing window")
	}
	m.w.OpenBy(reason)
	m.mu.Lock()
	m.qrID, m.qrSecret = "", "" // a new token with the new closing time
	m.mu.Unlock()
	sec, ok := m.QRToken()
	if !ok && m.store != nil {
		return "", fmt.Errorf("cannot mint a pairing token")
	}
	return sec, nil
}

// Close closes the window and drops the tokens nobody used.
func (m *Manager) Close() {
	if m.w != nil {
		m.w.Close()
	}
	m.drop()
}

func (m *Manager) drop() {
	m.mu.Lock()
	m.qrID, m.qrSecret = "", ""
	m.mu.Unlock()
	if m.store != nil {
		m.store.ClearPending()
	}
}

// Run drops the unused tokens whenever the window closes (also by running
// out), and calls each fn on every change, until ctx ends.
func (m *Manager) Run(ctx context.Context, fns ...func(Change)) {
	if m.w == nil {
		<-ctx.Done()
		return
	}
	m.w.Watch(ctx, func(c Change) {
		if !c.Open {
			m.drop()
		}
		for _, fn := range fns {
			fn(c)
		}
	})
}

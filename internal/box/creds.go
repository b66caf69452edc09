package box

// The credentials component: the store (hub, phone and owner credentials),
// the pairing window and its token manager, the owner operations (the
// owner's page, POST /api/owner) and the control socket for `sudo meshbox
// pair|qr|tokens` (internal/auth, internal/pairing).

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/meshbox/meshbox/internal/auth"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/relay"
)

// creds is what the box holds about credentials and pairing.
type creds struct {
	store   *auth.Store
	manager *pairing.Manager
	admin   *pairing.Admin
	open    bool // open relay: no member token at all
	log     *slog.Logger
}

// openCreds opens the credential store in the state directory and the
// pairing window: open at the first start only (no state yet), else closed
// until the pairing button, `sudo meshbox pair` or the owner's page opens
// it. A restart (crash, kill -9, watchdog, update) never reopens it.
func openCreds(cfg *config.Config, hubToken string, log *slog.Logger) (*creds, error) {
	log = log.With("component", "auth")
	st, err := auth.Open(auth.Options{Dir: cfg.StateDir, HubToken: hubToken, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%w (state directory %s)", err, cfg.StateDir)
	}
	w := pairing.NewWindow(cfg.Pairing.Window, cfg.Pairing.Always, nil)
	if !st.FirstStart() {
		w.Close()
	}
	c := &creds{store: st, open: hubToken == "", log: log}
	mstore := st
	if c.open {
		mstore = nil // an open relay has no token to hand out
	}
	c.manager = pairing.NewManager(w, mstore, log)
	return c, nil
}

// relayCredentials is the relay's Credentials (nil for an open relay).
func (c *creds) relayCredentials() relay.Credentials {
	if c.open {
		return nil
	}
	return c.store.Relay()
}

// setAdmin wires the owner operations: payload is the QR content without a
// token (key returns the room key of an encrypted room, "" = none), rs the
// relay (its warnings; revoked members are closed); rotate, when not nil,
// rotates the room key after a revoke (an encrypted room: the revoked phone
// cannot read it any more, the others pair again).
func (c *creds) setAdmin(payload pairing.Payload, key func() string, rs *relay.Server, rotate func() error) {
	c.admin = &pairing.Admin{Manager: c.manager, Store: c.store, Logger: c.log,
		Payload: func(tok, role string) pairing.Payload {
			p := payload
			p.Token, p.Role = tok, role
			if key != nil && tok != "" {
				p.K = key()
			}
			return p
		},
		Warning: func() string { return strings.Join(rs.Warnings(), "\n") },
		Revoked: func(auth.Token) error {
			rs.Revalidate()
			if rotate != nil {
				return rotate()
			}
			return nil
		},
	}
}

// startCreds runs the pairing window log (and the dropping of unused
// pairing tokens), the control socket and the last-seen flush.
func (b *Box) startCreds(ctx context.Context) (func(), error) {
	c := b.creds
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	goRun := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	onChange := logPairing(b.log.With("component", "page"), b.page.pairingLabel)
	if c.open { // an open relay has no secret to guard
		onChange = func(pairing.Change) {}
	}
	goRun(func() { c.manager.Run(ctx, onChange) })
	goRun(func() { _ = c.store.Run(ctx) })
	goRun(func() {
		err := pairing.ServeControl(ctx, c.store.Dir(), func(r pairing.Request) pairing.Response {
			return c.admin.Do(r, "the console")
		}, c.log)
		if err != nil && ctx.Err() == nil {
			// Not fatal: the box runs; only the console commands are missing.
			c.log.Error("control socket unavailable: `meshbox pair|qr|tokens` cannot reach this box", "err", err)
		}
	})
	return func() { cancel(); wg.Wait() }, nil
}

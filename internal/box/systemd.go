package box

// The process contract with systemd (deploy/meshbox.service) and LAN
// updates: READY=1 once the bridge has joined and the box serves,
// WATCHDOG=1 keep-alives only while the box is healthy, STOPPING=1 on the
// way out, POST /update, and the confirmation of a freshly installed
// update. (Exec'ing an installed update at start is the caller's:
// update.Updater.Start, before New.)

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/sdnotify"
	"github.com/meshbox/meshbox/internal/update"
)

// Confirmation of a freshly installed update: it must stay up UpdateSettle,
// then report healthy before UpdateConfirmTimeout.
const (
	UpdateSettle         = 10 * time.Second
	UpdateConfirmTimeout = 2 * time.Minute
)

// mountUpdate registers POST /update when the box has an updater.
func (b *Box) mountUpdate() {
	if b.opts.Updater == nil {
		return
	}
	b.mux.Handle("/update", update.Handler(update.HandlerOptions{
		Updater: b.opts.Updater,
		// The owner credential only: no member token (hub, phone) installs
		// firmware.
		Authorize: update.BearerAuthorizer(b.creds.store.OwnerSecret),
		Restart:   func() { b.fail(update.ErrRestart) },
		Logger:    b.log.With("component", "update"),
	}))
}

// startSystemd talks to systemd (when NOTIFY_SOCKET is set) and confirms a
// pending update once the box is healthy.
func (b *Box) startSystemd(ctx context.Context) (func(), error) {
	getenv := b.opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	log := b.log.With("component", "systemd")
	n := sdnotify.FromEnv(getenv, os.Getpid(), log)
	healthy := func(context.Context) error { return b.health() }
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer n.Close()
		select { // READY=1 once serving and joined
		case <-b.ready:
		case <-ctx.Done():
			return
		}
		_ = n.Ready(ctx, "serving on "+b.cfg.Listen)
		if u := b.opts.Updater; u != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				self, err := os.Executable()
				if err != nil {
					return
				}
				if err := u.Confirm(ctx, self, UpdateSettle, UpdateConfirmTimeout, healthy); err != nil && ctx.Err() == nil {
					b.log.Error("update did not report healthy; exiting so the next start rolls it back", "err", err)
					b.fail(err)
				}
			}()
		}
		if err := n.Watchdog(ctx, healthy); err != nil && ctx.Err() == nil {
			b.fail(err)
			return
		}
		<-ctx.Done() // Watchdog returns at once when systemd expects no keep-alives
		_ = n.Stopping(context.WithoutCancel(ctx), "stopping")
	}()
	return func() { cancel(); wg.Wait() }, nil
}

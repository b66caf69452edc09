package main

// serve_systemd: the process contract with systemd (deploy/meshbox.service)
// and LAN updates: an installed update is exec'd at start (rolled back when
// it never reports healthy), READY=1 once serving, WATCHDOG=1 keep-alives
// only while the box is healthy, STOPPING=1 on the way out, POST /update.

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/meshbox/meshbox/internal/sdnotify"
	"github.com/meshbox/meshbox/internal/update"
)

// Confirmation of a freshly installed update: it must stay up updateSettle,
// then report healthy before updateConfirmTimeout.
const (
	updateSettle         = 10 * time.Second
	updateConfirmTimeout = 2 * time.Minute
)

// startUpdater runs the start-up step of the updater: it execs an installed
// update (the process image is replaced) or rolls a failed one back.
func (b *box) startUpdater(ctx context.Context) error {
	keyFile := b.env.Getenv("MESHBOX_UPDATE_KEY")
	if keyFile == "" {
		keyFile = update.DefaultKeyFile
	}
	b.updater = &update.Updater{Layout: update.Layout{StateDir: b.stateDir}, Version: version,
		Logger: b.log.With("component", "update"), KeyFile: keyFile}
	switch pub, err := update.LoadPublicKey(keyFile); {
	case err == nil:
		b.log.Info("updates: only binaries signed with the update key are installed", "key_file", keyFile, "key_id", update.KeyID(pub))
	case errors.Is(err, os.ErrNotExist):
		b.log.Info("updates: no update key, so unsigned binaries are accepted from the owner (meshbox keygen; docs/security.md)", "key_file", keyFile)
	default:
		b.log.Error("updates: the update key cannot be read: every update is refused", "key_file", keyFile, "err", err)
	}
	argv := append([]string{"meshbox"}, b.env.Args...)
	rb, err := b.updater.Start(ctx, argv, os.Environ())
	if err != nil {
		return err
	}
	if rb != nil {
		b.log.Warn("update rolled back", "version", rb.Version, "reason", rb.Reason)
	}
	return nil
}

// health is the box's readiness: the bridge has joined the relay.
func (b *box) health() error {
	if b.hw == nil {
		return nil
	}
	if m := b.hw.Member(); m == nil || !m.Ready() {
		return errors.New("the bridge has not joined the relay")
	}
	return nil
}

// addSystemd registers POST /update and the component that talks to
// systemd and confirms a pending update.
func (b *box) addSystemd() {
	b.mux.Handle("/update", update.Handler(update.HandlerOptions{
		Updater: b.updater,
		// The owner credential; until internal/auth has one, the relay token.
		Authorize: update.BearerAuthorizer(func() string { return b.token }),
		Restart:   b.restart,
		Logger:    b.log.With("component", "update"),
	}))
	n := sdnotify.FromEnv(b.env.Getenv, os.Getpid(), b.log.With("component", "systemd"))
	healthy := func(context.Context) error { return b.health() }
	b.components = append(b.components, component{name: "systemd", run: func(ctx context.Context) error {
		defer n.Close()
		// READY=1 once the listener is up (run starts components after
		// Listen) and the bridge joined.
		for b.health() != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(50 * time.Millisecond):
			}
		}
		_ = n.Ready(ctx, "serving on "+b.listenAddr())
		go func() {
			self, err := os.Executable()
			if err != nil {
				return
			}
			if err := b.updater.Confirm(ctx, self, updateSettle, updateConfirmTimeout, healthy); err != nil && ctx.Err() == nil {
				b.log.Error("update did not report healthy; exiting so the next start rolls it back", "err", err)
				b.fail(err)
			}
		}()
		if err := n.Watchdog(ctx, healthy); err != nil && ctx.Err() == nil {
			return err
		}
		<-ctx.Done() // Watchdog returns at once when systemd expects no keep-alives
		_ = n.Stopping(context.WithoutCancel(ctx), "stopping")
		return nil
	}})
}

package box

import (
	"context"
	"fmt"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/wire"
)

// startBridge joins the bridge to the embedded relay through a quiet pipe
// (no own echoes, no "sent" replies) and runs its input, sensor and serial
// loops. The membership exists before any later component starts.
func (b *Box) startBridge(ctx context.Context) (func(), error) {
	br := b.hw.bridge
	log := b.log.With("component", "bridge")
	jctx, jcancel := context.WithTimeout(ctx, joinTimeout)
	defer jcancel()
	m, err := br.Join(jctx, bridge.JoinOptions{
		Token:  b.opts.Token,
		Logger: log,
		Cipher: b.room.cipher(),
		Dial: func(ctx context.Context) (wire.Transport, error) {
			return b.relay.PipeWith(ctx, "bridge", relay.PipeOptions{Quiet: true})
		},
	})
	if err != nil {
		return nil, err
	}
	b.member = m
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer br.SafeExit()
		if err := br.Run(rctx); err != nil && rctx.Err() == nil {
			b.fail(fmt.Errorf("bridge: %w", err))
		}
	}()
	return func() {
		_ = m.Close() // leave before the relay closes: no redial
		cancel()
		<-done
	}, nil
}

package bridge

import (
	"context"
	"fmt"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
)

type input struct {
	// Immutable after New.
	cfg config.Input
	in  gpio.Input

	// Owned by runInput.
	level bool // last debounced logical level
}

func (b *Bridge) openInputs() error {
	for _, ic := range b.cfg.Inputs {
		pull, err := resolvePull(ic)
		if err != nil {
			return err
		}
		in, err := b.host.Input(outputLine(ic.Pin), pull)
		if err != nil {
			return fmt.Errorf("input %s: open %s: %w", ic.ID, ic.Pin.Raw, err)
		}
		x := &input{cfg: ic, in: in}
		if lvl, err := in.Read(); err == nil {
			x.level = lvl != ic.ActiveLow
		} else {
			b.log.Warn("input read", "input", ic.ID, "err", err)
		}
		b.record(ic.ID, x.level, false, false)
		switch ic.Broadcast {
		case "none":
			b.quiet[ic.ID] = true
		case "event":
			b.edges[ic.ID] = true
		}
		b.inputs = append(b.inputs, x)
	}
	return nil
}

// runInput waits for edges, lets the line settle for the debounce time,
// then samples it; a changed level is published.
func (b *Bridge) runInput(ctx context.Context, x *input) {
	deb := orDefault(x.cfg.Debounce, config.DefaultDebounce)
	backoff := newBackoff(100*time.Millisecond, 10*time.Second)
	for {
		e, err := x.in.WaitForEdge(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d := backoff.next()
			b.log.Warn("input edge wait failed", "input", x.cfg.ID, "err", err, "retry", d)
			if sleepCtx(ctx, d) != nil {
				return
			}
			continue
		}
		backoff.reset()
		if sleepCtx(ctx, deb) != nil {
			return
		}
		lvl := e.Level
		if l, err := x.in.Read(); err == nil {
			lvl = l
		}
		logical := lvl != x.cfg.ActiveLow
		if logical == x.level {
			continue
		}
		x.level = logical
		b.stats.inputEdges.Add(1)
		b.record(x.cfg.ID, logical, true, false)
		edge := "falling"
		if logical {
			edge = "rising"
		}
		b.pub.emit(Event{Kind: EventInput, ID: x.cfg.ID, Value: logical, Edge: edge})
		if x.cfg.Pairing && logical && b.opts.OnPairingButton != nil {
			b.log.Info("pairing button pressed", "input", x.cfg.ID)
			go b.opts.OnPairingButton()
		}
	}
}

// backoff is an exponential delay, doubling from min to max.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(lo, hi time.Duration) *backoff {
	if lo <= 0 {
		lo = time.Second
	}
	if hi < lo {
		hi = lo
	}
	return &backoff{min: lo, max: hi}
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

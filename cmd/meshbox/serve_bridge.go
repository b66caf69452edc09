package main

// Owned by the bridge engineer: the hardware bridge's part of serve. serve.go
// calls addBridge from addComponents (before the listener exists, so every
// output is in its boot state before a client can connect) and defers
// closeBridge (exit states when serve returns, also on a panic).

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/linuxhost"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/wire"
)

// hardware is the bridge and the host it drives.
type hardware struct {
	host   gpio.Host
	sim    *simhost.Board // nil on real hardware
	desc   string         // "simulated (-sim)", "gpio (...)": for the log
	bridge *bridge.Bridge
	// member is the bridge's membership in the embedded relay; set by the
	// bridge component once it has joined (nil before).
	member atomic.Pointer[bridge.Member]
	// onPairing is called when the pairing input is pressed (set by the
	// pairing code with setPairingButton).
	onPairing atomic.Pointer[func()]
}

// Member returns the bridge's relay membership, nil until joined.
func (h *hardware) Member() *bridge.Member { return h.member.Load() }

// setPairingButton sets what the pairing input does.
func (h *hardware) setPairingButton(fn func()) { h.onPairing.Store(&fn) }

// simBoardKey carries a *simhost.Board in a context: tests hand serve the
// board they inspect.
type simBoardKey struct{}

func withSimBoard(ctx context.Context, b *simhost.Board) context.Context {
	return context.WithValue(ctx, simBoardKey{}, b)
}

// joinTimeout bounds the wait for the bridge's first admission.
const joinTimeout = 5 * time.Second

// addBridge opens the hardware, drives every output to its boot state, and
// adds the bridge component (join the relay through its pipe, run the
// sensor/input/serial loops, exit states when stopped).
func (b *box) addBridge(ctx context.Context) error {
	log := b.log.With("component", "bridge")
	hw := &hardware{}
	host, board, desc, err := b.openHost(ctx, log)
	if err != nil {
		return err
	}
	hw.host, hw.sim, hw.desc = host, board, desc
	b.hw = hw
	cfg := *b.cfg // shallow copy: the bridge keeps restore states in the resolved state dir
	cfg.StateDir = b.stateDir
	if board != nil {
		// A simulated device wherever the config reads one.
		peers, err := simulateConfig(board, &cfg, log)
		if err != nil {
			host.Close()
			b.hw = nil
			return fmt.Errorf("simulated board: %w", err)
		}
		if peers != nil {
			b.components = append(b.components, *peers)
		}
	}
	br, err := bridge.New(&cfg, host, bridge.Options{
		Logger: log,
		OnPairingButton: func() {
			if fn := hw.onPairing.Load(); fn != nil {
				(*fn)()
			}
		},
	})
	if err != nil {
		host.Close()
		b.hw = nil
		return fmt.Errorf("bridge: %w", err)
	}
	hw.bridge = br
	log.Info("outputs in their boot state", "outputs", len(cfg.Outputs), "inputs", len(cfg.Inputs),
		"sensors", len(cfg.Sensors), "serial", len(cfg.Serial), "host", host.String())
	b.components = append(b.components, component{name: "bridge", run: func(ctx context.Context) error {
		defer br.Shutdown()
		jctx, cancel := context.WithTimeout(ctx, joinTimeout)
		defer cancel()
		m, err := br.Join(jctx, bridge.JoinOptions{
			Token:  b.token,
			Logger: log,
			Dial: func(ctx context.Context) (wire.Transport, error) {
				return b.relay.Pipe(ctx, "bridge")
			},
		})
		if err != nil {
			return err
		}
		hw.member.Store(m)
		defer m.Close()
		return br.Run(ctx)
	}})
	return nil
}

// openHost picks the hardware: the simulated board with -sim, when no GPIO
// chip is present, or when no config file was given (the built-in demo
// never drives real pins); the Linux GPIO host otherwise. desc says which
// and why, for the log ("simulated (no GPIO chip)").
func (b *box) openHost(ctx context.Context, log *slog.Logger) (host gpio.Host, sim *simhost.Board, desc string, err error) {
	simulated := func(why string) (gpio.Host, *simhost.Board, string, error) {
		if b.cfg.Path != "" && !b.opts.sim {
			// A real wiring without -sim: say loudly that nothing is driven.
			log.Warn("simulated hardware: "+why+": "+b.cfg.Path+" runs on a SIMULATED board (made-up sensor values, no pin is driven); "+
				"pass -sim to mean it, or check /dev/gpiochip* and the gpio group", "config", b.cfg.Path)
		} else {
			log.Info("simulated hardware: " + why)
		}
		board, _ := ctx.Value(simBoardKey{}).(*simhost.Board)
		if board == nil {
			board = simhost.New(simhost.Options{Seed: uint64(time.Now().UnixNano()), Logger: log})
		}
		return board, board, "simulated (" + why + ")", nil
	}
	switch {
	case b.opts.sim:
		return simulated("-sim")
	case !linuxhost.Available():
		return simulated("no GPIO chip found")
	case b.cfg.Path == "":
		return simulated("no config file; the built-in demo runs on the simulated board")
	}
	h, err := linuxhost.New(linuxhost.Options{Logger: log})
	if err != nil {
		return nil, nil, "", fmt.Errorf("open GPIO: %w", err)
	}
	return h, nil, "gpio (" + h.String() + ")", nil
}

// hardwareDesc is what serve drives, for the "serving" log line.
func (b *box) hardwareDesc() string {
	if b.hw == nil {
		return "none"
	}
	return b.hw.desc
}

// closeBridge is deferred by serve: it drives the exit states (idempotent)
// and closes the host; on a panic it does so before re-panicking.
func (b *box) closeBridge() {
	r := recover()
	if b.hw != nil && b.hw.bridge != nil {
		if r != nil {
			b.log.Error("panic: driving outputs to their exit state", "panic", fmt.Sprint(r))
		}
		b.hw.bridge.Shutdown()
		b.hw.host.Close()
	}
	if r != nil {
		panic(r)
	}
}

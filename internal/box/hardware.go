package box

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/linuxhost"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/simdrive"
)

// hardware is the bridge and the host it drives.
type hardware struct {
	host   gpio.Host
	sim    *simhost.Board // nil on real hardware
	desc   string         // "simulated (-sim)", "gpio (...)": for the log
	bridge *bridge.Bridge
	auto   *autoState // nil without thermostats and automations
}

// openHardware picks the host, populates a simulated board from the
// config, and creates the bridge: every output is in its boot state when
// it returns.
func (b *Box) openHardware() (*hardware, error) {
	log := b.log.With("component", "bridge")
	hw := &hardware{}
	if err := b.openHost(hw); err != nil {
		return nil, err
	}
	if hw.sim != nil {
		// A simulated device wherever the config reads one.
		if err := simulateConfig(hw.sim, b.cfg, log); err != nil {
			hw.host.Close()
			return nil, fmt.Errorf("simulated board: %w", err)
		}
	}
	ref := &engineRef{}
	drive := simdrive.New(b.cfg, hw.sim) // nil on real hardware
	bopts := bridge.Options{
		Logger:          log,
		OnPairingButton: func() { _, _ = b.creds.manager.OpenBy("the pairing button") },
		Controls:        ref,
		OpenSensor:      drive.OpenSensor(bridge.DefaultOpenSensor),
	}
	if drive != nil {
		bopts.Sim = func(payload json.RawMessage) error {
			f, err := simdrive.ParseFrame(payload)
			if err != nil {
				return err
			}
			return drive.Handle(f)
		}
	}
	br, err := bridge.New(b.cfg, hw.host, bopts)
	if err != nil {
		hw.host.Close()
		return nil, fmt.Errorf("bridge: %w", err)
	}
	hw.bridge = br
	if hw.auto, err = b.newAutomation(b.cfg, br, ref); err != nil {
		br.Shutdown()
		hw.host.Close()
		return nil, fmt.Errorf("automation: %w", err)
	}
	log.Info("outputs in their boot state", "outputs", len(b.cfg.Outputs), "inputs", len(b.cfg.Inputs),
		"sensors", len(b.cfg.Sensors), "serial", len(b.cfg.Serial), "host", hw.host.String())
	return hw, nil
}

// openHost picks the hardware: Options.Host; the simulated board with
// Sim, when no GPIO chip is present, or when no config file was given (the
// built-in demo never drives real pins); the Linux GPIO host otherwise.
// desc says which and why, for the log ("simulated (no GPIO chip)").
func (b *Box) openHost(hw *hardware) error {
	log := b.log.With("component", "bridge")
	if b.opts.Host != nil {
		hw.host, hw.desc = b.opts.Host, b.opts.Host.String()
		return nil
	}
	simulated := func(why string) error {
		if b.cfg.Path != "" && !b.opts.Sim {
			// A real wiring without -sim: say loudly that nothing is driven.
			log.Warn("simulated hardware: "+why+": "+b.cfg.Path+" runs on a SIMULATED board (made-up sensor values, no pin is driven); "+
				"pass -sim to mean it, or check /dev/gpiochip* and the gpio group", "config", b.cfg.Path)
		} else {
			log.Info("simulated hardware: " + why)
		}
		board := b.opts.Board
		if board == nil {
			board = simhost.New(simhost.Options{Seed: uint64(time.Now().UnixNano()), Logger: log})
		}
		hw.host, hw.sim, hw.desc = board, board, "simulated ("+why+")"
		return nil
	}
	switch {
	case b.opts.Sim:
		return simulated("-sim")
	case !linuxhost.Available():
		return simulated("no GPIO chip found")
	case b.cfg.Path == "":
		return simulated("no config file; the built-in demo runs on the simulated board")
	}
	h, err := linuxhost.New(linuxhost.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("open GPIO: %w", err)
	}
	hw.host, hw.desc = h, "gpio ("+h.String()+")"
	return nil
}

// simulatedWithoutFlag: a real config runs on the simulated board without
// -sim (no GPIO chip found), which the page says.
func (b *Box) simulatedWithoutFlag() bool {
	return b.hw.sim != nil && !b.opts.Sim && b.cfg.Path != ""
}

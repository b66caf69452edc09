package box

// The simulated board, populated from the config: with -sim (or without a
// GPIO chip) a user's own config runs with a simulated device wherever it
// reads one, so no sensor fails for want of hardware.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/sensor"
)

// simPeriod is how often a simulated serial peer writes a line.
const simPeriod = 2 * time.Second

// simulateConfig populates board with a simulated device for every sensor
// and serial device of cfg: the right register-map fake at each configured
// I²C bus/address, a DS18B20 w1_slave at each 1-Wire path, the thermal zone
// of each cputemp sensor, and a serial port per serial device (its peer is
// played by the sim-serial component).
func simulateConfig(board *simhost.Board, cfg *config.Config, log *slog.Logger) error {
	for _, s := range cfg.Sensors {
		info, err := sensor.Lookup(s.Driver)
		if err != nil {
			return fmt.Errorf("sensor %s: %w", s.ID, err)
		}
		switch {
		case info.Kind == sensor.KindI2C:
			if err := board.AddI2CDevice(s.Bus, s.Address, s.Driver); err != nil {
				return fmt.Errorf("sensor %s: %w", s.ID, err)
			}
		case info.Name == config.DriverDS18B20:
			p, err := sensor.W1SlavePath(s.Path)
			if err != nil {
				continue // the bridge reports the bad path
			}
			board.AddW1Slave(p, "probe")
		case info.Name == config.DriverCPUTemp:
			p := s.Path
			if p == "" {
				p = simhost.ThermalZone0
			}
			board.AddThermalZone(path.Clean(p), "cpu")
		}
	}
	for _, d := range cfg.Serial {
		board.AddSerial(d.Port)
	}
	return nil
}

// startSimSerial plays the simulated serial devices (with a simulated
// board whose config has serial devices).
func (b *Box) startSimSerial(ctx context.Context) (func(), error) {
	devs := b.cfg.Serial
	if b.hw.sim == nil || len(devs) == 0 {
		return nil, nil
	}
	log := b.log.With("component", "bridge")
	log.Info("simulated serial devices", "ports", len(devs), "every", simPeriod)
	// The devices live until this component is stopped, after the bridge
	// (components stop in reverse): ending with Run's context would close
	// the ports under a bridge still reading them ("serial device failed:
	// EOF" in every shutdown).
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runSimPeer(ctx, b.hw.sim, d, float64(i), log)
		}()
	}
	return func() { cancel(); wg.Wait() }, nil
}

// runSimPeer plays the device at the other end of d's simulated port: a
// line every simPeriod in d's framing; what the bridge writes (commands) is
// read and logged at debug level. It follows the port across reopens.
func runSimPeer(ctx context.Context, board *simhost.Board, d config.SerialDevice, phase float64, log *slog.Logger) {
	for n := 0; ctx.Err() == nil; {
		peer, err := board.SerialPeer(ctx, d.Port)
		if err != nil {
			return
		}
		drained := make(chan struct{})
		go func() { // drain the commands; ends when the peer is closed
			defer close(drained)
			buf := make([]byte, 256)
			for {
				k, err := peer.Read(buf)
				if err != nil {
					return
				}
				if k > 0 {
					log.Debug("simulated serial device got", "device", d.ID, "data", strings.TrimSpace(string(buf[:k])))
				}
			}
		}()
		t := time.NewTicker(simPeriod)
		for ctx.Err() == nil {
			n++
			if _, err := peer.Write([]byte(simSerialLine(board, d, n, phase) + "\n")); err != nil {
				break // reopened or closed: wait for the next connection
			}
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
		t.Stop()
		_ = peer.Close()
		<-drained
	}
}

// simSerialLine is the n-th line of a simulated d in its framing, with a
// value for each configured field (or one "value" field).
func simSerialLine(board *simhost.Board, d config.SerialDevice, n int, phase float64) string {
	if d.Framing == config.FramingText {
		return fmt.Sprintf("simulated %s line %d", d.ID, n)
	}
	type kv struct {
		k string
		v float64
	}
	var vals []kv
	for i, f := range d.Fields {
		key := f.Source
		if key == "" {
			key = f.Name
		}
		vals = append(vals, kv{key, board.SimValue(f.Min, f.Max, phase+float64(i))})
	}
	if len(vals) == 0 {
		vals = append(vals, kv{"value", board.SimValue(0, 100, phase)})
	}
	if d.Framing == config.FramingJSON {
		m := make(map[string]float64, len(vals))
		for _, x := range vals {
			m[x.k] = x.v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	parts := make([]string, len(vals))
	for i, x := range vals {
		parts[i] = x.k + "=" + strconv.FormatFloat(x.v, 'f', -1, 64)
	}
	return strings.Join(parts, " ")
}

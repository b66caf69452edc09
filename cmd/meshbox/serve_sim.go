package main

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
// of each cputemp sensor, and a serial port per serial device. It returns
// the component running the serial peers (nil when there is none).
func simulateConfig(board *simhost.Board, cfg *config.Config, log *slog.Logger) (*component, error) {
	for _, s := range cfg.Sensors {
		info, err := sensor.Lookup(s.Driver)
		if err != nil {
			return nil, fmt.Errorf("sensor %s: %w", s.ID, err)
		}
		switch {
		case info.Kind == sensor.KindI2C:
			if err := board.AddI2CDevice(s.Bus, s.Address, s.Driver); err != nil {
				return nil, fmt.Errorf("sensor %s: %w", s.ID, err)
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
	if len(cfg.Serial) == 0 {
		return nil, nil
	}
	devs := cfg.Serial
	for _, d := range devs {
		board.AddSerial(d.Port)
	}
	log.Info("simulated serial devices", "ports", len(devs), "every", simPeriod)
	return &component{name: "sim-serial", run: func(ctx context.Context) error {
		done := make(chan struct{}, len(devs))
		for i, d := range devs {
			go func() {
				defer func() { done <- struct{}{} }()
				runSimPeer(ctx, board, d, float64(i), log)
			}()
		}
		for range devs {
			<-done
		}
		return nil
	}}, nil
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
		go func() { // drain the commands
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

package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3/gpioioctl"
	_ "periph.io/x/host/v3/sysfs" // registers /dev/i2c-N with i2creg
)

// hardware is the guest's GPIO chip and I²C buses as periph sees them.
type hardware struct {
	chip *gpioioctl.GPIOChip
	pull gpio.Pull
}

func openHardware(chipName string, pull gpio.Pull) (*hardware, error) {
	if _, err := driverreg.Init(); err != nil {
		return nil, fmt.Errorf("periph init: %w", err)
	}
	for _, c := range gpioioctl.Chips {
		if c.Name() == chipName {
			return &hardware{chip: c, pull: pull}, nil
		}
	}
	return nil, fmt.Errorf("gpio chip %q not found (%d chips)", chipName, len(gpioioctl.Chips))
}

func (h *hardware) printInfo(w io.Writer) error {
	for _, c := range gpioioctl.Chips {
		fmt.Fprintf(w, "chip %s label=%s lines=%d\n", c.Name(), c.Label(), c.LineCount())
	}
	for _, r := range i2creg.All() {
		fmt.Fprintf(w, "i2c %s aliases=%v number=%d\n", r.Name, r.Aliases, r.Number)
	}
	return nil
}

func (h *hardware) line(n int) (*gpioioctl.GPIOLine, error) {
	l := h.chip.ByNumber(n)
	if l == nil {
		return nil, fmt.Errorf("%s has no line %d", h.chip.Name(), n)
	}
	return l, nil
}

// output claims line n as an output driven to boot.
func (h *hardware) output(n int, boot bool) (*gpioioctl.GPIOLine, error) {
	l, err := h.line(n)
	if err != nil {
		return nil, err
	}
	if err := l.Out(gpio.Level(boot)); err != nil {
		return nil, fmt.Errorf("%s line %d as output: %w", h.chip.Name(), n, err)
	}
	return l, nil
}

// input claims line n as an input reporting both edges.
func (h *hardware) input(n int) (*gpioioctl.GPIOLine, error) {
	l, err := h.line(n)
	if err != nil {
		return nil, err
	}
	if err := l.In(h.pull, gpio.BothEdges); err != nil {
		return nil, fmt.Errorf("%s line %d as input: %w", h.chip.Name(), n, err)
	}
	return l, nil
}

// watch sends the level after every edge of l until ctx is done.
func watch(ctx context.Context, l *gpioioctl.GPIOLine, levels chan<- bool) {
	for ctx.Err() == nil {
		if l.WaitForEdge(200 * time.Millisecond) {
			select {
			case levels <- bool(l.Read()):
			case <-ctx.Done():
			}
		}
	}
}

// tmp105 reads the temperature register (°C) of a TMP105/TMP102/LM75.
func tmp105(bus i2c.Bus, addr uint16) (float64, error) {
	var b [2]byte
	if err := bus.Tx(addr, []byte{0}, b[:]); err != nil {
		return 0, fmt.Errorf("tmp105 at %#x: %w", addr, err)
	}
	raw := int16(uint16(b[0])<<8|uint16(b[1])) >> 4
	return float64(raw) * 0.0625, nil
}

func openBus(name string) (i2c.BusCloser, error) {
	b, err := i2creg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("i2c bus %q: %w", name, err)
	}
	return b, nil
}

// Package gpio defines the small hardware interfaces the bridge drives
// (digital outputs, inputs with edges, PWM outputs, I²C buses and serial
// ports) and the Host that opens them. Backends live in subpackages: the Linux
// backend on periph.io/x/host/v3 and a simulated board for laptops, tests and
// the demo.
//
// The bridge sees only these interfaces; only the owner of a Host (cmd/meshbox)
// closes it.
package gpio

import (
	"context"
	"errors"
	"io"
	"time"

	"periph.io/x/conn/v3/i2c"
)

// ErrUnsupported is returned by a Host that cannot open a kind of device.
var ErrUnsupported = errors.New("not supported on this host")

// Line names one GPIO line: Chip is a gpiochip name or path ("gpiochip0",
// "/dev/gpiochip4"); empty means the board's 40-pin header chip, in which case
// Offset is the BCM number.
type Line struct {
	Chip   string
	Offset int
}

// Pull is an input's bias.
type Pull int

const (
	PullNone Pull = iota
	PullUp
	PullDown
)

// Edge is one level change seen on an input.
type Edge struct {
	Level bool      // the level after the change (physical, before active-low)
	Time  time.Time // when it was seen
}

// Output is a digital output line. Its level is kept in software: backends
// never read an output back (periph would turn it into an input).
type Output interface {
	// Out drives the physical level.
	Out(level bool) error
	// Level returns the last level driven.
	Level() bool
	String() string
}

// Input is a digital input line with edge detection.
type Input interface {
	Read() (bool, error)
	// WaitForEdge blocks until the level changes or ctx is done.
	WaitForEdge(ctx context.Context) (Edge, error)
	String() string
}

// PWM is a PWM output. Duty is 0..1.
type PWM interface {
	Set(frequencyHz float64, duty float64) error
	Duty() float64
	String() string
}

// SerialPort is an open serial device.
type SerialPort interface {
	io.ReadWriteCloser
	// SetReadTimeout bounds each Read; 0 blocks.
	SetReadTimeout(d time.Duration) error
}

// PWMRef names a PWM channel: a /sys/class/pwm chip and channel, or a BCM pin
// the board maps to one.
type PWMRef struct {
	Chip    int
	Channel int
	Pin     int // BCM pin (informational; the board maps it to Chip/Channel)
}

// Simulator is implemented by a Host that drives no real hardware (the
// simulated board), so that logs and the page can say so.
type Simulator interface {
	Simulated() bool
}

// IsSimulated reports whether h says it is simulated.
func IsSimulated(h Host) bool {
	s, ok := h.(Simulator)
	return ok && s.Simulated()
}

// Host opens hardware. Output requests the line as an output already at
// initial, so there is no glitch between claiming and driving it.
type Host interface {
	Output(l Line, initial bool) (Output, error)
	Input(l Line, pull Pull) (Input, error)
	PWM(ref PWMRef) (PWM, error)
	// I2C opens a bus by name ("1" for /dev/i2c-1).
	I2C(bus string) (i2c.BusCloser, error)
	Serial(port string, baud int) (SerialPort, error)
	// ReadFile reads a sysfs/proc-style file (1-Wire DS18B20, CPU temperature);
	// the simulated board serves its own contents.
	ReadFile(path string) ([]byte, error)
	String() string
	Close() error
}

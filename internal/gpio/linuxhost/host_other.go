//go:build !linux

package linuxhost

import (
	"fmt"

	"periph.io/x/conn/v3/i2c"

	"github.com/meshbox/meshbox/internal/gpio"
)

// Available is false off Linux.
func Available() bool { return false }

// Host is unavailable off Linux; every method reports gpio.ErrUnsupported.
type Host struct{}

// New returns gpio.ErrUnsupported off Linux.
func New(Options) (*Host, error) {
	return nil, fmt.Errorf("linuxhost: %w (GPIO needs Linux)", gpio.ErrUnsupported)
}

func (*Host) Output(gpio.Line, bool) (gpio.Output, error)    { return nil, gpio.ErrUnsupported }
func (*Host) Input(gpio.Line, gpio.Pull) (gpio.Input, error) { return nil, gpio.ErrUnsupported }
func (*Host) PWM(gpio.PWMRef) (gpio.PWM, error)              { return nil, gpio.ErrUnsupported }
func (*Host) I2C(string) (i2c.BusCloser, error)              { return nil, gpio.ErrUnsupported }
func (*Host) Serial(string, int) (gpio.SerialPort, error)    { return nil, gpio.ErrUnsupported }
func (*Host) ReadFile(string) ([]byte, error)                { return nil, gpio.ErrUnsupported }
func (*Host) Chips() []ChipInfo                              { return nil }
func (*Host) String() string                                 { return "linux host (unsupported here)" }
func (*Host) Close() error                                   { return nil }

var _ gpio.Host = (*Host)(nil)

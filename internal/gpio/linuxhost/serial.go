package linuxhost

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.bug.st/serial"

	"github.com/meshbox/meshbox/internal/gpio"
)

// openSerial opens port at baud, 8N1.
func openSerial(port string, baud int) (gpio.SerialPort, error) {
	if baud <= 0 {
		return nil, fmt.Errorf("serial %s: invalid baud rate %d", port, baud)
	}
	p, err := serial.Open(port, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("serial %s: %w", port, err)
	}
	if err := p.SetReadTimeout(serial.NoTimeout); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("serial %s: %w", port, err)
	}
	return &serialPort{Port: p, name: port}, nil
}

// serialPort adapts go.bug.st/serial: a Read that times out returns 0, nil.
type serialPort struct {
	serial.Port
	name string
}

// SetReadTimeout bounds each Read; 0 blocks (go.bug.st's NoTimeout).
func (p *serialPort) SetReadTimeout(d time.Duration) error {
	if d <= 0 {
		d = serial.NoTimeout
	}
	return p.Port.SetReadTimeout(d)
}

// Read reads like go.bug.st's Port, except that when a read times out
// while the device node has gone (a USB adapter unplugged) it returns an
// error, so the caller reopens the port instead of waiting forever.
func (p *serialPort) Read(b []byte) (int, error) {
	n, err := p.Port.Read(b)
	if n == 0 && err == nil && filepath.IsAbs(p.name) {
		if _, serr := os.Stat(p.name); serr != nil {
			return 0, fmt.Errorf("serial %s: device gone: %w", p.name, serr)
		}
	}
	return n, err
}

func (p *serialPort) String() string { return "serial " + p.name }

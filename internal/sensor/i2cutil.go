package sensor

import (
	"fmt"

	"periph.io/x/conn/v3/i2c"
)

// regDev is an I²C device with register helpers.
type regDev struct {
	dev  i2c.Dev
	name string
}

func newRegDev(b i2c.Bus, addr uint16, name string) regDev {
	return regDev{dev: i2c.Dev{Bus: b, Addr: addr}, name: name}
}

func (d *regDev) String() string { return fmt.Sprintf("%s@0x%02x", d.name, d.dev.Addr) }

// read reads n bytes starting at register reg.
func (d *regDev) read(reg byte, n int) ([]byte, error) {
	r := make([]byte, n)
	if err := d.dev.Tx([]byte{reg}, r); err != nil {
		return nil, fmt.Errorf("%s: read reg 0x%02x: %w", d, reg, err)
	}
	return r, nil
}

// write writes bytes (usually a register then its value).
func (d *regDev) write(b ...byte) error {
	if err := d.dev.Tx(b, nil); err != nil {
		return fmt.Errorf("%s: write 0x%x: %w", d, b, err)
	}
	return nil
}

// readBE16 reads a big-endian 16-bit register.
func (d *regDev) readBE16(reg byte) (uint16, error) {
	b, err := d.read(reg, 2)
	if err != nil {
		return 0, err
	}
	return uint16(b[0])<<8 | uint16(b[1]), nil
}

// Close is a no-op: the bus belongs to whoever opened it.
func (d *regDev) Close() error { return nil }

package simhost

import (
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/meshbox/meshbox/internal/sensor"
)

// busName maps the accepted I²C bus spellings ("1", "/dev/i2c-1", "I2C1")
// to the simulated bus name; "" is bus "1", as in internal/sensor.
func busName(bus string) string {
	name := strings.TrimPrefix(strings.TrimPrefix(bus, "/dev/i2c-"), "I2C")
	if name == "" {
		name = DemoBus
	}
	return name
}

// NewDevice returns a simulated I²C device for an internal/sensor driver
// name (aliases included: lm75 and tmp105 are TMP102s), measuring the
// board's environment. An unknown or non-I²C driver is an error.
func (b *Board) NewDevice(driver string) (Device, error) {
	info, err := sensor.Lookup(driver)
	if err != nil {
		return nil, err
	}
	family := info.Name
	if info.AliasOf != "" {
		family = info.AliasOf
	}
	switch family {
	case "bme280":
		return NewBME280(b.env), nil
	case "sht3x":
		return NewSHT3x(b.env), nil
	case "bh1750":
		return NewBH1750(b.env), nil
	case "tmp102":
		return NewTMP102(b.env), nil
	case "ads1115":
		return NewADS1115(b.env), nil
	case "ina219":
		return NewINA219(b.env, 0.1), nil
	}
	return nil, fmt.Errorf("simhost: driver %q has no simulated I²C device", driver)
}

// AddI2CDevice attaches a simulated device of driver at addr (0: the
// driver's default address) on bus (see busName), replacing what was there.
func (b *Board) AddI2CDevice(bus string, addr uint16, driver string) error {
	dev, err := b.NewDevice(driver)
	if err != nil {
		return err
	}
	if addr == 0 {
		info, _ := sensor.Lookup(driver)
		addr = info.DefaultAddr
	}
	b.Bus(busName(bus)).Add(addr, dev)
	return nil
}

// AddW1Slave serves a DS18B20 w1_slave file at p (the file itself) reading
// the env quantity q.
func (b *Board) AddW1Slave(p, q string) {
	env := b.env
	b.mu.Lock()
	defer b.mu.Unlock()
	b.files[path.Clean(p)] = func() ([]byte, error) { return W1Slave(env.Get(q)), nil }
}

// SimValue is a plausible reading for a quantity without a sensor model
// (a serial device's field): inside [lo, hi] (0..100 when empty), swinging
// slowly with the board's clock (a 10-minute period); phase shifts it.
func (b *Board) SimValue(lo, hi, phase float64) float64 {
	if hi <= lo {
		lo, hi = 0, 100
	}
	sec := float64(b.now().UnixMilli()) / 1000
	frac := 0.5 + 0.4*math.Sin(2*math.Pi*sec/600+phase)
	return math.Round((lo+(hi-lo)*frac)*100) / 100
}

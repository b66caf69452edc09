package sensor

import (
	"context"
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/i2c"
)

const (
	inaRegConfig  = 0x00
	inaRegShunt   = 0x01
	inaRegBus     = 0x02
	inaRegPower   = 0x03
	inaRegCurrent = 0x04
	inaRegCal     = 0x05

	// 32 V range, ±320 mV shunt, 12-bit, shunt and bus continuous (reset value).
	inaConfigDefault = 0x399F
	inaBusOVF        = 0x01

	ina219DefaultShunt      = 0.1 // Ω, common breakout boards
	ina219DefaultMaxCurrent = 3.2 // A
)

func ina219Fields() []FieldInfo {
	return []FieldInfo{
		{"voltage", "V", 0, 26, 0.001},
		{"shunt_voltage", "mV", -320, 320, 0.01},
		{"current", "A", -3.2, 3.2, 0.0001},
		{"power", "W", 0, 83.2, 0.001},
	}
}

// INA219 reads a TI INA219 current/power monitor.
type INA219 struct {
	mu         sync.Mutex
	d          regDev
	currentLSB float64 // A per count
	cal        uint16
	ready      bool
}

// NewINA219 returns a driver for the monitor at addr on b with the given
// shunt resistance (Ω) and maximum expected current (A). The current LSB is
// rounded up to a round value (datasheet §8.5.1) and the calibration register
// computed from it: Cal = trunc(0.04096 / (Current_LSB · Rshunt)).
func NewINA219(b i2c.Bus, addr uint16, shunt, maxCurrent float64) *INA219 {
	lsb := maxCurrent / 32768
	// Round up to 1, 2 or 5 × 10^n for readable values.
	exp := math.Pow(10, math.Floor(math.Log10(lsb)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*exp >= lsb*(1-1e-9) {
			lsb = m * exp
			break
		}
	}
	return &INA219{d: newRegDev(b, addr, "ina219"), currentLSB: lsb, cal: uint16(math.Trunc(0.04096/(lsb*shunt) + 1e-9))}
}

func (s *INA219) String() string { return s.d.String() }
func (s *INA219) Close() error   { return s.d.Close() }

// Fields lists voltage (bus, V), shunt_voltage (mV), current (A), power (W).
func (s *INA219) Fields() []FieldInfo { return ina219Fields() }

// Calibration returns the calibration register value and current LSB.
func (s *INA219) Calibration() (uint16, float64) { return s.cal, s.currentLSB }

// Read returns bus voltage, shunt voltage, current and power.
func (s *INA219) Read(ctx context.Context) (map[string]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := s.read()
	if err != nil {
		s.ready = false
	}
	return m, err
}

func (s *INA219) read() (map[string]float64, error) {
	if !s.ready {
		if err := s.d.write(inaRegConfig, inaConfigDefault>>8, inaConfigDefault&0xFF); err != nil {
			return nil, err
		}
		if err := s.d.write(inaRegCal, byte(s.cal>>8), byte(s.cal)); err != nil {
			return nil, err
		}
		s.ready = true
	}
	bus, err := s.d.readBE16(inaRegBus)
	if err != nil {
		return nil, err
	}
	if bus&inaBusOVF != 0 {
		return nil, fmt.Errorf("%s: %w: math overflow (current or power out of range)", &s.d, ErrBadData)
	}
	shunt, err := s.d.readBE16(inaRegShunt)
	if err != nil {
		return nil, err
	}
	cur, err := s.d.readBE16(inaRegCurrent)
	if err != nil {
		return nil, err
	}
	pow, err := s.d.readBE16(inaRegPower)
	if err != nil {
		return nil, err
	}
	if cur == 0 && shunt != 0 {
		// The chip lost its calibration (power cycle): program it again.
		s.ready = false
		return nil, fmt.Errorf("%s: %w: calibration lost, reprogramming", &s.d, ErrBadData)
	}
	return map[string]float64{
		"voltage":       float64(bus>>3) * 0.004,
		"shunt_voltage": float64(int16(shunt)) * 0.01, // 10 µV per count, in mV
		"current":       float64(int16(cur)) * s.currentLSB,
		"power":         float64(pow) * 20 * s.currentLSB,
	}, nil
}

package sensor

import (
	"context"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
)

const (
	tmpRegTemp   = 0x00
	tmpRegConfig = 0x01
	// TMP105 config: R1=R0=1 (12-bit), continuous conversion.
	tmp105Config12Bit = 0x60
)

// TMP102 reads a TI TMP102, TMP105 or an LM75-class sensor: a left-aligned
// two's-complement temperature register at 0x00, 0.0625 °C per count in
// 12-bit mode (TMP102 extended mode, flagged by bit 0, is 13-bit).
type TMP102 struct {
	mu      sync.Mutex
	d       regDev
	variant string // tmp102, tmp105, lm75
	ready   bool
}

// NewTMP102 returns a driver for the sensor at addr on b; variant is
// "tmp102", "tmp105" (switched to 12-bit on first read) or "lm75".
func NewTMP102(b i2c.Bus, addr uint16, variant string) *TMP102 {
	return &TMP102{d: newRegDev(b, addr, variant), variant: variant}
}

func (s *TMP102) String() string { return s.d.String() }
func (s *TMP102) Close() error   { return s.d.Close() }

// Fields lists temperature.
func (s *TMP102) Fields() []FieldInfo { return []FieldInfo{{"temperature", "°C", -55, 125, 0.01}} }

// DecodeTMP102 converts the two temperature register bytes to °C.
func DecodeTMP102(msb, lsb byte) float64 {
	raw := int16(uint16(msb)<<8 | uint16(lsb))
	if lsb&0x01 != 0 { // TMP102 extended (13-bit) mode
		return float64(raw>>3) * 0.0625
	}
	return float64(raw>>4) * 0.0625
}

// Read returns the temperature in °C.
func (s *TMP102) Read(ctx context.Context) (map[string]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.ready && s.variant == "tmp105" {
		if err := s.d.write(tmpRegConfig, tmp105Config12Bit); err != nil {
			return nil, err
		}
	}
	r, err := s.d.read(tmpRegTemp, 2)
	if err != nil {
		s.ready = false
		return nil, err
	}
	s.ready = true
	t := DecodeTMP102(r[0], r[1])
	if t < -60 || t > 155 {
		return nil, fmt.Errorf("%s: %w: %.4f °C out of range", &s.d, ErrBadData, t)
	}
	return map[string]float64{"temperature": t}, nil
}

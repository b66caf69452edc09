package sensor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
)

const (
	adsRegConversion = 0x00
	adsRegConfig     = 0x01

	adsOS         = 1 << 15 // write: start; read: 1 = idle
	adsModeSingle = 1 << 8
	adsDR128      = 0b100 << 5 // 128 SPS (default)
	adsCompQueOff = 0b11
	// One conversion at 128 SPS is 7.8 ms.
	adsConvTime = 8 * time.Millisecond

	ads1115DefaultFS = 4.096
)

// adsPGA maps a full-scale voltage to the PGA bits (datasheet table 8).
func adsPGA(fs float64) (uint16, bool) {
	switch fs {
	case 6.144:
		return 0b000, true
	case 4.096:
		return 0b001, true
	case 2.048:
		return 0b010, true
	case 1.024:
		return 0b011, true
	case 0.512:
		return 0b100, true
	case 0.256:
		return 0b101, true
	}
	return 0, false
}

func ads1115Fields(fs float64) []FieldInfo {
	var f []FieldInfo
	for ch := range 4 {
		f = append(f, FieldInfo{fmt.Sprintf("ch%d", ch), "V", 0, fs, 0.0001})
	}
	return f
}

// ADS1115 reads the four single-ended inputs of a TI ADS1115 in single-shot
// mode, in volts.
type ADS1115 struct {
	mu    sync.Mutex
	d     regDev
	sleep func(context.Context, time.Duration) error
	fs    float64
	pga   uint16
}

// NewADS1115 returns a driver for the ADC at addr on b with full scale fs
// volts (6.144, 4.096, 2.048, 1.024, 0.512 or 0.256; others fall back to 4.096).
func NewADS1115(b i2c.Bus, addr uint16, fs float64) *ADS1115 {
	s := &ADS1115{d: newRegDev(b, addr, "ads1115"), sleep: sleepCtx, fs: ads1115DefaultFS, pga: 0b001}
	if bits, ok := adsPGA(fs); ok {
		s.fs, s.pga = fs, bits
	}
	return s
}

func (s *ADS1115) String() string { return s.d.String() }
func (s *ADS1115) Close() error   { return s.d.Close() }

// Fields lists ch0..ch3.
func (s *ADS1115) Fields() []FieldInfo { return ads1115Fields(s.fs) }

// ConfigWord is the config register value that starts a single-shot
// conversion of input ch against GND.
func (s *ADS1115) ConfigWord(ch int) uint16 {
	mux := uint16(0b100 + ch)
	return adsOS | mux<<12 | s.pga<<9 | adsModeSingle | adsDR128 | adsCompQueOff
}

// Read converts the four channels one after the other.
func (s *ADS1115) Read(ctx context.Context) (map[string]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]float64, 4)
	for ch := range 4 {
		v, err := s.readChannel(ctx, ch)
		if err != nil {
			return nil, err
		}
		m[fmt.Sprintf("ch%d", ch)] = v
	}
	return m, nil
}

func (s *ADS1115) readChannel(ctx context.Context, ch int) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cfg := s.ConfigWord(ch)
	if err := s.d.write(adsRegConfig, byte(cfg>>8), byte(cfg)); err != nil {
		return 0, err
	}
	for i := 0; ; i++ {
		if err := s.sleep(ctx, adsConvTime); err != nil {
			return 0, err
		}
		st, err := s.d.readBE16(adsRegConfig)
		if err != nil {
			return 0, err
		}
		if st&adsOS != 0 {
			break
		}
		if i == 3 {
			return 0, fmt.Errorf("%s: %w: conversion of ch%d did not finish", &s.d, ErrBadData, ch)
		}
	}
	raw, err := s.d.readBE16(adsRegConversion)
	if err != nil {
		return 0, err
	}
	return float64(int16(raw)) * s.fs / 32768, nil
}

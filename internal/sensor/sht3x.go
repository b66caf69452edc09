package sensor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
)

// SHT3x single-shot, high repeatability, no clock stretching (datasheet
// table 9) and its maximum duration (table 4: 15.5 ms).
var sht3xMeasureHigh = []byte{0x24, 0x00}

const sht3xMeasureTime = 16 * time.Millisecond

// SHT3x reads a Sensirion SHT30/31/35.
type SHT3x struct {
	mu    sync.Mutex
	d     regDev
	sleep func(context.Context, time.Duration) error
}

// NewSHT3x returns a driver for the sensor at addr (0x44 or 0x45) on b.
func NewSHT3x(b i2c.Bus, addr uint16) *SHT3x {
	return &SHT3x{d: newRegDev(b, addr, "sht3x"), sleep: sleepCtx}
}

func (s *SHT3x) String() string { return s.d.String() }
func (s *SHT3x) Close() error   { return s.d.Close() }

// Fields lists temperature and humidity.
func (s *SHT3x) Fields() []FieldInfo {
	return []FieldInfo{{"temperature", "°C", -40, 125, 0.01}, {"humidity", "%RH", 0, 100, 0.01}}
}

// Read runs one single-shot measurement; both words are CRC-checked.
func (s *SHT3x) Read(ctx context.Context) (map[string]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.d.write(sht3xMeasureHigh...); err != nil {
		return nil, err
	}
	if err := s.sleep(ctx, sht3xMeasureTime); err != nil {
		return nil, err
	}
	r := make([]byte, 6)
	if err := s.d.dev.Tx(nil, r); err != nil {
		return nil, fmt.Errorf("%s: read measurement: %w", &s.d, err)
	}
	return decodeSHT3x(r, &s.d)
}

func decodeSHT3x(r []byte, who fmt.Stringer) (map[string]float64, error) {
	for i := 0; i < 6; i += 3 {
		if c := CRC8Sensirion(r[i : i+2]); c != r[i+2] {
			return nil, fmt.Errorf("%s: %w: word %02x%02x has crc 0x%02x, want 0x%02x", who, ErrCRC, r[i], r[i+1], r[i+2], c)
		}
	}
	rawT := float64(uint16(r[0])<<8 | uint16(r[1]))
	rawH := float64(uint16(r[3])<<8 | uint16(r[4]))
	return map[string]float64{
		"temperature": -45 + 175*rawT/65535,
		"humidity":    100 * rawH / 65535,
	}, nil
}

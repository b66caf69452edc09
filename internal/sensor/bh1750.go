package sensor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
)

// BH1750 opcodes (datasheet p. 5).
const (
	bh1750PowerOn        = 0x01
	bh1750ContinuousHRes = 0x10
	// Max H-resolution measurement time (datasheet: typ 120 ms, max 180 ms).
	bh1750MeasureTime = 180 * time.Millisecond
)

// BH1750 reads a ROHM BH1750 in continuous high-resolution mode.
type BH1750 struct {
	mu      sync.Mutex
	d       regDev
	sleep   func(context.Context, time.Duration) error
	now     func() time.Time
	started time.Time // zero until powered on and started
}

// NewBH1750 returns a driver for the sensor at addr (0x23 or 0x5C) on b.
func NewBH1750(b i2c.Bus, addr uint16) *BH1750 {
	return &BH1750{d: newRegDev(b, addr, "bh1750"), sleep: sleepCtx, now: time.Now}
}

func (s *BH1750) String() string { return s.d.String() }
func (s *BH1750) Close() error   { return s.d.Close() }

// Fields lists lux.
func (s *BH1750) Fields() []FieldInfo { return []FieldInfo{{"lux", "lx", 0, 65535, 0.1}} }

// Read returns the latest conversion in lux (count / 1.2 at the default
// measurement time). The first Read powers the sensor on and waits for the
// first conversion.
func (s *BH1750) Read(ctx context.Context) (map[string]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.started.IsZero() {
		if err := s.d.write(bh1750PowerOn); err != nil {
			return nil, err
		}
		if err := s.d.write(bh1750ContinuousHRes); err != nil {
			return nil, err
		}
		s.started = s.now()
	}
	if wait := bh1750MeasureTime - s.now().Sub(s.started); wait > 0 {
		if err := s.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	r := make([]byte, 2)
	if err := s.d.dev.Tx(nil, r); err != nil {
		s.started = time.Time{}
		return nil, fmt.Errorf("%s: read: %w", &s.d, err)
	}
	return map[string]float64{"lux": float64(uint16(r[0])<<8|uint16(r[1])) / 1.2}, nil
}

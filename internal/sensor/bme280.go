package sensor

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
)

// BME280 registers (Bosch BME280 datasheet §5.3).
const (
	bmeRegCalib1   = 0x88 // 26 bytes: T1..P9, reserved, H1
	bmeRegChipID   = 0xD0
	bmeRegCalib2   = 0xE1 // 7 bytes: H2..H6
	bmeRegCtrlHum  = 0xF2
	bmeRegStatus   = 0xF3
	bmeRegCtrlMeas = 0xF4
	bmeRegConfig   = 0xF5
	bmeRegData     = 0xF7 // press[3] temp[3] hum[2]

	bmeChipIDBME280 = 0x60
	bmeChipIDBMP280 = 0x58

	bmeCtrlHumX1     = 0x01 // osrs_h ×1
	bmeCtrlMeasForce = 0x25 // osrs_t ×1, osrs_p ×1, forced mode
	bmeStatusMeasure = 0x08
	// Max measurement time at ×1/×1/×1: 1.25 + 2.3·3 + 0.575·2 ms (datasheet §9.1).
	bmeMeasureTime = 10 * time.Millisecond
)

func bme280Fields(hum bool) []FieldInfo {
	f := []FieldInfo{{"temperature", "°C", -40, 85, 0.01}, {"pressure", "hPa", 300, 1100, 0.01}}
	if hum {
		f = append(f, FieldInfo{"humidity", "%RH", 0, 100, 0.01})
	}
	return f
}

// BME280Calibration holds the trimming parameters read from the chip.
type BME280Calibration struct {
	T1                             uint16
	T2, T3                         int16
	P1                             uint16
	P2, P3, P4, P5, P6, P7, P8, P9 int16
	H1                             uint8
	H2                             int16
	H3                             uint8
	H4, H5                         int16
	H6                             int8
}

// ParseBME280Calibration decodes the 26 bytes at 0x88 and the 7 bytes at 0xE1
// (hum may be nil for a BMP280).
func ParseBME280Calibration(tp, hum []byte) (BME280Calibration, error) {
	var c BME280Calibration
	if len(tp) != 26 || (hum != nil && len(hum) != 7) {
		return c, fmt.Errorf("%w: calibration length %d/%d", ErrBadData, len(tp), len(hum))
	}
	u := func(i int) uint16 { return binary.LittleEndian.Uint16(tp[i:]) }
	s := func(i int) int16 { return int16(u(i)) }
	c.T1, c.T2, c.T3 = u(0), s(2), s(4)
	c.P1, c.P2, c.P3, c.P4, c.P5 = u(6), s(8), s(10), s(12), s(14)
	c.P6, c.P7, c.P8, c.P9 = s(16), s(18), s(20), s(22)
	c.H1 = tp[25]
	if hum != nil {
		c.H2 = int16(binary.LittleEndian.Uint16(hum))
		c.H3 = hum[2]
		c.H4 = int16(int8(hum[3]))<<4 | int16(hum[4]&0x0F)
		c.H5 = int16(int8(hum[5]))<<4 | int16(hum[4]>>4)
		c.H6 = int8(hum[6])
	}
	if c.T1 == 0 || c.P1 == 0 {
		return c, fmt.Errorf("%w: calibration is blank (T1=%d P1=%d)", ErrBadData, c.T1, c.P1)
	}
	return c, nil
}

// TFine returns the datasheet's t_fine and the temperature in 0.01 °C
// (32-bit integer formula, datasheet §4.2.3).
func (c *BME280Calibration) TFine(adcT int32) (tFine, centiC int32) {
	var1 := ((adcT>>3 - int32(c.T1)<<1) * int32(c.T2)) >> 11
	d := adcT>>4 - int32(c.T1)
	var2 := (((d * d) >> 12) * int32(c.T3)) >> 14
	tFine = var1 + var2
	return tFine, (tFine*5 + 128) >> 8
}

// Pressure returns the pressure in Pa as Q24.8 (64-bit formula); 0 means the
// calibration would divide by zero.
func (c *BME280Calibration) Pressure(adcP, tFine int32) uint32 {
	var1 := int64(tFine) - 128000
	var2 := var1 * var1 * int64(c.P6)
	var2 += (var1 * int64(c.P5)) << 17
	var2 += int64(c.P4) << 35
	var1 = (var1*var1*int64(c.P3))>>8 + (var1*int64(c.P2))<<12
	var1 = ((int64(1)<<47 + var1) * int64(c.P1)) >> 33
	if var1 == 0 {
		return 0
	}
	p := int64(1048576 - adcP)
	p = ((p<<31 - var2) * 3125) / var1
	var1 = (int64(c.P9) * (p >> 13) * (p >> 13)) >> 25
	var2 = (int64(c.P8) * p) >> 19
	p = (p+var1+var2)>>8 + int64(c.P7)<<4
	return uint32(p)
}

// Humidity returns the relative humidity in %RH as Q22.10 (32-bit formula).
func (c *BME280Calibration) Humidity(adcH, tFine int32) uint32 {
	v := tFine - 76800
	a := (adcH<<14 - int32(c.H4)<<20 - int32(c.H5)*v + 16384) >> 15
	b := ((v * int32(c.H6)) >> 10) * (((v * int32(c.H3)) >> 11) + 32768)
	b = ((b>>10+2097152)*int32(c.H2) + 8192) >> 14
	v = a * b
	v -= (((v >> 15) * (v >> 15)) >> 7) * int32(c.H1) >> 4
	v = max(v, 0)
	v = min(v, 419430400)
	return uint32(v >> 12)
}

// Compensate converts raw ADC values to °C, hPa and %RH.
func (c *BME280Calibration) Compensate(adcT, adcP, adcH int32) (tempC, hPa, rh float64, err error) {
	tFine, centi := c.TFine(adcT)
	p := c.Pressure(adcP, tFine)
	if p == 0 {
		return 0, 0, 0, fmt.Errorf("%w: pressure compensation divides by zero", ErrBadData)
	}
	return float64(centi) / 100, float64(p) / 256 / 100, float64(c.Humidity(adcH, tFine)) / 1024, nil
}

// BME280 reads a Bosch BME280 (or BMP280, without humidity) in forced mode.
type BME280 struct {
	mu    sync.Mutex
	d     regDev
	sleep func(context.Context, time.Duration) error
	cal   *BME280Calibration // nil until (re)initialised
	hum   bool
}

// NewBME280 returns a driver for the chip at addr on b; the chip is probed on
// the first Read.
func NewBME280(b i2c.Bus, addr uint16) *BME280 {
	return &BME280{d: newRegDev(b, addr, "bme280"), sleep: sleepCtx, hum: true}
}

func (s *BME280) String() string { return s.d.String() }
func (s *BME280) Close() error   { return s.d.Close() }

// Fields lists temperature, pressure and (for a BME280) humidity.
func (s *BME280) Fields() []FieldInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bme280Fields(s.hum)
}

func (s *BME280) init() error {
	id, err := s.d.read(bmeRegChipID, 1)
	if err != nil {
		return err
	}
	switch id[0] {
	case bmeChipIDBME280:
		s.hum = true
	case bmeChipIDBMP280:
		s.hum = false
	default:
		return fmt.Errorf("%s: %w: chip id 0x%02x (want 0x60 BME280 or 0x58 BMP280)", &s.d, ErrBadData, id[0])
	}
	// Filter off, standby irrelevant in forced mode (written in sleep mode).
	if err := s.d.write(bmeRegConfig, 0x00); err != nil {
		return err
	}
	tp, err := s.d.read(bmeRegCalib1, 26)
	if err != nil {
		return err
	}
	var hum []byte
	if s.hum {
		if hum, err = s.d.read(bmeRegCalib2, 7); err != nil {
			return err
		}
	}
	c, err := ParseBME280Calibration(tp, hum)
	if err != nil {
		return fmt.Errorf("%s: %w", &s.d, err)
	}
	s.cal = &c
	return nil
}

// Read triggers one forced measurement and returns temperature (°C),
// pressure (hPa) and humidity (%RH).
func (s *BME280) Read(ctx context.Context) (map[string]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := s.read(ctx)
	if err != nil {
		s.cal = nil // probe again next time (chip reset, re-plugged)
	}
	return m, err
}

func (s *BME280) read(ctx context.Context) (map[string]float64, error) {
	if s.cal == nil {
		if err := s.init(); err != nil {
			return nil, err
		}
	}
	if s.hum {
		if err := s.d.write(bmeRegCtrlHum, bmeCtrlHumX1); err != nil {
			return nil, err
		}
	}
	if err := s.d.write(bmeRegCtrlMeas, bmeCtrlMeasForce); err != nil {
		return nil, err
	}
	if err := s.sleep(ctx, bmeMeasureTime); err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		st, err := s.d.read(bmeRegStatus, 1)
		if err != nil {
			return nil, err
		}
		if st[0]&bmeStatusMeasure == 0 {
			break
		}
		if i == 4 {
			return nil, fmt.Errorf("%s: %w: measurement did not finish", &s.d, ErrBadData)
		}
		if err := s.sleep(ctx, 2*time.Millisecond); err != nil {
			return nil, err
		}
	}
	n := 6
	if s.hum {
		n = 8
	}
	r, err := s.d.read(bmeRegData, n)
	if err != nil {
		return nil, err
	}
	adcP := int32(r[0])<<12 | int32(r[1])<<4 | int32(r[2])>>4
	adcT := int32(r[3])<<12 | int32(r[4])<<4 | int32(r[5])>>4
	if adcT == 0x80000 || adcP == 0x80000 {
		return nil, fmt.Errorf("%s: %w: measurement skipped (0x80000)", &s.d, ErrBadData)
	}
	var adcH int32
	if s.hum {
		adcH = int32(r[6])<<8 | int32(r[7])
		if adcH == 0x8000 {
			return nil, fmt.Errorf("%s: %w: humidity skipped (0x8000)", &s.d, ErrBadData)
		}
	}
	t, p, h, err := s.cal.Compensate(adcT, adcP, adcH)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", &s.d, err)
	}
	m := map[string]float64{"temperature": t, "pressure": p}
	if s.hum {
		m["humidity"] = h
	}
	return m, nil
}

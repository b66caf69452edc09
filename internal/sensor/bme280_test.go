package sensor

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

// Compensation example of the Bosch BMP280 datasheet (§3.12, table 15), whose
// temperature and pressure formulas the BME280 shares, plus humidity trimming
// values of a real BME280.
var exampleCal = BME280Calibration{
	T1: 27504, T2: 26435, T3: -1000,
	P1: 36477, P2: -10685, P3: 3024, P4: 2855, P5: 140, P6: -7, P7: 15500, P8: -14600, P9: 6000,
	H1: 75, H2: 362, H3: 0, H4: 313, H5: 50, H6: 30,
}

const (
	exampleAdcT = 519888 // -> 25.08 °C, t_fine 128422
	exampleAdcP = 415148 // -> 100653.27 Pa
)

func calBytes(c BME280Calibration) (tp, hum []byte) {
	tp = make([]byte, 26)
	le := binary.LittleEndian
	le.PutUint16(tp[0:], c.T1)
	for i, v := range []int16{c.T2, c.T3} {
		le.PutUint16(tp[2+2*i:], uint16(v))
	}
	le.PutUint16(tp[6:], c.P1)
	for i, v := range []int16{c.P2, c.P3, c.P4, c.P5, c.P6, c.P7, c.P8, c.P9} {
		le.PutUint16(tp[8+2*i:], uint16(v))
	}
	tp[25] = c.H1
	hum = make([]byte, 7)
	le.PutUint16(hum, uint16(c.H2))
	hum[2] = c.H3
	hum[3] = byte(c.H4 >> 4)
	hum[4] = byte(c.H4&0x0F) | byte(c.H5&0x0F)<<4
	hum[5] = byte(c.H5 >> 4)
	hum[6] = byte(c.H6)
	return tp, hum
}

// floatHumidity is the datasheet's floating-point formula (§8.1), an
// independent check of the integer one.
func floatHumidity(c BME280Calibration, adcH, tFine float64) float64 {
	v := tFine - 76800
	v = (adcH - (float64(c.H4)*64 + float64(c.H5)/16384*v)) *
		(float64(c.H2) / 65536 * (1 + float64(c.H6)/67108864*v*(1+float64(c.H3)/67108864*v)))
	v *= 1 - float64(c.H1)*v/524288
	return min(max(v, 0), 100)
}

func bmeOps(addr uint16, adcT, adcP, adcH int32) []i2ctest.IO {
	tp, hum := calBytes(exampleCal)
	data := []byte{byte(adcP >> 12), byte(adcP >> 4), byte(adcP << 4), byte(adcT >> 12), byte(adcT >> 4), byte(adcT << 4), byte(adcH >> 8), byte(adcH)}
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0xD0}, R: []byte{0x60}},
		{Addr: addr, W: []byte{0xF5, 0x00}},
		{Addr: addr, W: []byte{0x88}, R: tp},
		{Addr: addr, W: []byte{0xE1}, R: hum},
		{Addr: addr, W: []byte{0xF2, 0x01}},
		{Addr: addr, W: []byte{0xF4, 0x25}},
		{Addr: addr, W: []byte{0xF3}, R: []byte{0x08}}, // still measuring
		{Addr: addr, W: []byte{0xF3}, R: []byte{0x00}},
		{Addr: addr, W: []byte{0xF7}, R: data},
	}
}

func TestBME280DatasheetExample(t *testing.T) {
	tp, hum := calBytes(exampleCal)
	c, err := ParseBME280Calibration(tp, hum)
	if err != nil {
		t.Fatal(err)
	}
	if c != exampleCal {
		t.Fatalf("calibration round trip:\n got %+v\nwant %+v", c, exampleCal)
	}
	tFine, centi := c.TFine(exampleAdcT)
	if tFine != 128422 || centi != 2508 {
		t.Errorf("t_fine, T = %d, %d; datasheet: 128422, 2508", tFine, centi)
	}
	// The datasheet lists 100653.27 Pa; the 64-bit integer formula lands
	// within 0.02 Pa of it (25767233/256).
	near(t, "pressure Pa", float64(c.Pressure(exampleAdcP, tFine))/256, 100653.27, 0.05)
}

func TestBME280ReadPlayback(t *testing.T) {
	const adcH = 30000
	bus := play(t, bmeOps(0x76, exampleAdcT, exampleAdcP, adcH)...)
	s := NewBME280(bus, 0x76)
	s.sleep = noSleep
	m, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	near(t, "temperature", m["temperature"], 25.08, 1e-9)
	near(t, "pressure", m["pressure"], 1006.5327, 5e-4)
	near(t, "humidity", m["humidity"], floatHumidity(exampleCal, adcH, 128422), 0.01)
	if len(s.Fields()) != 3 {
		t.Errorf("fields %v", s.Fields())
	}
}

func TestBME280Errors(t *testing.T) {
	t.Run("wrong chip", func(t *testing.T) {
		bus := play(t, i2ctest.IO{Addr: 0x77, W: []byte{0xD0}, R: []byte{0x55}})
		s := NewBME280(bus, 0x77)
		if _, err := s.Read(context.Background()); !errors.Is(err, ErrBadData) {
			t.Fatalf("err = %v, want ErrBadData", err)
		}
	})
	t.Run("skipped measurement", func(t *testing.T) {
		bus := play(t, bmeOps(0x76, 0x80000, exampleAdcP, 30000)...)
		s := NewBME280(bus, 0x76)
		s.sleep = noSleep
		if _, err := s.Read(context.Background()); !errors.Is(err, ErrBadData) {
			t.Fatalf("err = %v, want ErrBadData", err)
		}
	})
	t.Run("io error then re-probe", func(t *testing.T) {
		ops := bmeOps(0x76, exampleAdcT, exampleAdcP, 30000)
		// The first attempt dies on the data read (the playback refuses a
		// transaction it does not expect), the second probes the chip again.
		first := append([]i2ctest.IO(nil), ops[:8]...)
		first = append(first, i2ctest.IO{Addr: 0x76, W: []byte{0xF7}, R: make([]byte, 3)})
		bus := play(t, append(first, ops...)...)
		s := NewBME280(bus, 0x76)
		s.sleep = noSleep
		if _, err := s.Read(context.Background()); err == nil {
			t.Fatal("want an error from the short read")
		}
		// The playback moved past the failed op only if it matched; skip it.
		bus.Count = len(first)
		if _, err := s.Read(context.Background()); err != nil {
			t.Fatalf("after re-probe: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		s := NewBME280(play(t), 0x76)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Read(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestBME280IntegerVsFloat checks the 32-bit integer formulas against the
// datasheet's double-precision ones over the sensor's range.
func TestBME280IntegerVsFloat(t *testing.T) {
	c := exampleCal
	for _, adcT := range []int32{420000, 480000, 519888, 560000} {
		tFine, centi := c.TFine(adcT)
		v1 := (float64(adcT)/16384 - float64(c.T1)/1024) * float64(c.T2)
		d := float64(adcT)/131072 - float64(c.T1)/8192
		v2 := d * d * float64(c.T3)
		near(t, "temperature", float64(centi)/100, (v1+v2)/5120, 0.01)
		for _, adcH := range []int32{15000, 22000, 25000, 27500, 30000, 33000, 40000} {
			near(t, "humidity", float64(c.Humidity(adcH, tFine))/1024, floatHumidity(c, float64(adcH), float64(tFine)), 0.01)
		}
	}
}

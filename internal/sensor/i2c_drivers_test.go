package sensor

import (
	"context"
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

func TestCRC8Sensirion(t *testing.T) {
	// Datasheet example: CRC(0xBEEF) = 0x92.
	if c := CRC8Sensirion([]byte{0xBE, 0xEF}); c != 0x92 {
		t.Fatalf("CRC(0xBEEF) = 0x%02x, want 0x92", c)
	}
}

func shtWord(hi, lo byte) []byte { return []byte{hi, lo, CRC8Sensirion([]byte{hi, lo})} }

func TestSHT3x(t *testing.T) {
	// 0x6666 = 26214: -45 + 175·26214/65535 = 25.000 °C; 0x8000: 50.0008 %RH.
	resp := append(shtWord(0x66, 0x66), shtWord(0x80, 0x00)...)
	bus := play(t,
		i2ctest.IO{Addr: 0x44, W: []byte{0x24, 0x00}},
		i2ctest.IO{Addr: 0x44, R: resp},
	)
	s := NewSHT3x(bus, 0x44)
	s.sleep = noSleep
	m, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	near(t, "temperature", m["temperature"], 25.0, 1e-9)
	near(t, "humidity", m["humidity"], 50.00076, 1e-4)

	bad := append([]byte(nil), resp...)
	bad[5] ^= 0x01 // corrupt the humidity CRC
	bus2 := play(t,
		i2ctest.IO{Addr: 0x45, W: []byte{0x24, 0x00}},
		i2ctest.IO{Addr: 0x45, R: bad},
	)
	s2 := NewSHT3x(bus2, 0x45)
	s2.sleep = noSleep
	if _, err := s2.Read(context.Background()); !errors.Is(err, ErrCRC) {
		t.Fatalf("err = %v, want ErrCRC", err)
	}
}

func TestBH1750(t *testing.T) {
	now := time.Unix(1000, 0)
	var slept time.Duration
	bus := play(t,
		i2ctest.IO{Addr: 0x23, W: []byte{0x01}},
		i2ctest.IO{Addr: 0x23, W: []byte{0x10}},
		i2ctest.IO{Addr: 0x23, R: []byte{0x83, 0x90}}, // 33680 counts
		i2ctest.IO{Addr: 0x23, R: []byte{0x00, 0x0C}}, // 12 counts
	)
	s := NewBH1750(bus, 0x23)
	s.now = func() time.Time { return now }
	s.sleep = func(_ context.Context, d time.Duration) error { slept += d; now = now.Add(d); return nil }
	m, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	near(t, "lux", m["lux"], 33680/1.2, 1e-9)
	if slept != 180*time.Millisecond {
		t.Errorf("waited %v for the first conversion, want 180ms", slept)
	}
	m, err = s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	near(t, "lux", m["lux"], 10, 1e-9)
	if slept != 180*time.Millisecond {
		t.Errorf("second read waited; total %v", slept)
	}
}

func TestTMP102Table(t *testing.T) {
	// TMP102 datasheet table 5 (12-bit): temperature <-> digital output.
	for _, c := range []struct {
		reg  uint16 // 12-bit value
		want float64
	}{
		{0x7FF, 127.9375}, {0x640, 100}, {0x500, 80}, {0x4B0, 75}, {0x320, 50},
		{0x190, 25}, {0x004, 0.25}, {0x000, 0}, {0xFFC, -0.25}, {0xE70, -25}, {0xC90, -55},
	} {
		w := c.reg << 4
		if got := DecodeTMP102(byte(w>>8), byte(w)); got != c.want {
			t.Errorf("0x%03X -> %v, want %v", c.reg, got, c.want)
		}
	}
	// Extended mode (EM flag, bit 0): 13-bit, 150 °C = 0x0960 (table 6).
	w := uint16(0x0960)<<3 | 1
	if got := DecodeTMP102(byte(w>>8), byte(w)); got != 150 {
		t.Errorf("extended 150 °C decoded as %v", got)
	}
}

func TestTMP102Read(t *testing.T) {
	bus := play(t,
		i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0xE7, 0x00}}, // -25 °C
	)
	m, err := NewTMP102(bus, 0x48, "tmp102").Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	near(t, "temperature", m["temperature"], -25, 0)

	// TMP105 is switched to 12-bit resolution first.
	bus2 := play(t,
		i2ctest.IO{Addr: 0x49, W: []byte{0x01, 0x60}},
		i2ctest.IO{Addr: 0x49, W: []byte{0x00}, R: []byte{0x19, 0x00}},
		i2ctest.IO{Addr: 0x49, W: []byte{0x00}, R: []byte{0x19, 0x10}},
	)
	s := NewTMP102(bus2, 0x49, "tmp105")
	for _, want := range []float64{25, 25.0625} {
		m, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		near(t, "temperature", m["temperature"], want, 0)
	}
}

func TestADS1115(t *testing.T) {
	var ops []i2ctest.IO
	raws := []uint16{0x0000, 0x4000, 0x6666, 0xFFF0} // 0 V, 2.048 V, 3.27675 V, -0.002 V
	for ch, raw := range raws {
		// OS=1, MUX=1xx, PGA=001 (±4.096 V), single shot, 128 SPS, comparator off.
		cfg := uint16(0x8000 | (4+ch)<<12 | 1<<9 | 1<<8 | 0x80 | 0x03)
		ops = append(ops,
			i2ctest.IO{Addr: 0x49, W: []byte{0x01, byte(cfg >> 8), byte(cfg)}},
			i2ctest.IO{Addr: 0x49, W: []byte{0x01}, R: []byte{0x00, 0x00}}, // busy
			i2ctest.IO{Addr: 0x49, W: []byte{0x01}, R: []byte{byte(cfg >> 8), byte(cfg)}},
			i2ctest.IO{Addr: 0x49, W: []byte{0x00}, R: []byte{byte(raw >> 8), byte(raw)}},
		)
	}
	s := NewADS1115(play(t, ops...), 0x49, 4.096)
	s.sleep = noSleep
	if got := s.ConfigWord(0); got != 0xC383 {
		t.Errorf("config word ch0 = 0x%04X, want 0xC383", got)
	}
	m, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for ch, want := range []float64{0, 2.048, 3.27675, -0.002} {
		near(t, "ch", m[[]string{"ch0", "ch1", "ch2", "ch3"}[ch]], want, 1e-9)
	}
}

func TestINA219(t *testing.T) {
	// 0.1 Ω shunt, 3.2 A max -> Current_LSB 100 µA, Cal 4096 (datasheet §8.5.1).
	// 1 A through the shunt: 100 mV = 10000 counts of 10 µV; current 10000;
	// 12 V bus = 3000 counts of 4 mV (<<3, CNVR set); power 10000·3000/5000.
	bus := play(t,
		i2ctest.IO{Addr: 0x40, W: []byte{0x00, 0x39, 0x9F}},
		i2ctest.IO{Addr: 0x40, W: []byte{0x05, 0x10, 0x00}},
		i2ctest.IO{Addr: 0x40, W: []byte{0x02}, R: []byte{0x5D, 0xC2}},
		i2ctest.IO{Addr: 0x40, W: []byte{0x01}, R: []byte{0x27, 0x10}},
		i2ctest.IO{Addr: 0x40, W: []byte{0x04}, R: []byte{0x27, 0x10}},
		i2ctest.IO{Addr: 0x40, W: []byte{0x03}, R: []byte{0x17, 0x70}},
		// Overflow flag on the next read.
		i2ctest.IO{Addr: 0x40, W: []byte{0x02}, R: []byte{0x5D, 0xC3}},
		// Re-programmed after the error, then a negative current.
		i2ctest.IO{Addr: 0x40, W: []byte{0x00, 0x39, 0x9F}},
		i2ctest.IO{Addr: 0x40, W: []byte{0x05, 0x10, 0x00}},
		i2ctest.IO{Addr: 0x40, W: []byte{0x02}, R: []byte{0x5D, 0xC2}},
		i2ctest.IO{Addr: 0x40, W: []byte{0x01}, R: []byte{0xFE, 0x0C}}, // -500 -> -5 mV
		i2ctest.IO{Addr: 0x40, W: []byte{0x04}, R: []byte{0xFE, 0x0C}}, // -50 mA
		i2ctest.IO{Addr: 0x40, W: []byte{0x03}, R: []byte{0x01, 0x2C}}, // 300 × 2 mW
	)
	s := NewINA219(bus, 0x40, 0.1, 3.2)
	if cal, lsb := s.Calibration(); cal != 4096 || lsb != 1e-4 {
		t.Fatalf("calibration %d, LSB %g", cal, lsb)
	}
	m, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	near(t, "voltage", m["voltage"], 12, 1e-9)
	near(t, "shunt_voltage", m["shunt_voltage"], 100, 1e-9)
	near(t, "current", m["current"], 1, 1e-9)
	near(t, "power", m["power"], 12, 1e-9)
	if _, err := s.Read(context.Background()); !errors.Is(err, ErrBadData) {
		t.Fatalf("overflow: err = %v", err)
	}
	m, err = s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	near(t, "shunt_voltage", m["shunt_voltage"], -5, 1e-9)
	near(t, "current", m["current"], -0.05, 1e-9)
	near(t, "power", m["power"], 0.6, 1e-9)
}

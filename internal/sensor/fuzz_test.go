package sensor

import (
	"math"
	"testing"
)

func FuzzParseW1Slave(f *testing.F) {
	f.Add([]byte(w1Good))
	f.Add([]byte("5e ff 4b 46 7f ff 02 10 b6 : crc=b6 YES\n5e ff 4b 46 7f ff 02 10 b6 t=-10125\n"))
	f.Add([]byte("50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"))
	f.Add([]byte("72 01 4b 46 7f ff 0e 10 57 : crc=57 NO\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseW1Slave(b)
		if err != nil {
			return
		}
		if math.IsNaN(v) || v < -55 || v > 125 || v == 85 {
			t.Fatalf("accepted %v from %q", v, b)
		}
	})
}

func FuzzParseMilli(f *testing.F) {
	f.Add([]byte("48312\n"))
	f.Add([]byte("-1500"))
	f.Add([]byte(" 9223372036854775807 "))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseMilli(b)
		if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("accepted %v from %q", v, b)
		}
	})
}

func FuzzBME280Calibration(f *testing.F) {
	tp, hum := calBytes(exampleCal)
	f.Add(tp, hum, int32(exampleAdcT), int32(exampleAdcP), int32(30000))
	f.Fuzz(func(t *testing.T, tp, hum []byte, adcT, adcP, adcH int32) {
		c, err := ParseBME280Calibration(tp, hum)
		if err != nil {
			return
		}
		// Any raw value the 20/16-bit registers can hold must not panic.
		tc, p, h, err := c.Compensate(adcT&0xFFFFF, adcP&0xFFFFF, adcH&0xFFFF)
		if err == nil && (math.IsNaN(tc+p+h) || h < 0 || h > 100) {
			t.Fatalf("T=%v P=%v H=%v", tc, p, h)
		}
	})
}

func FuzzDecodeSHT3x(f *testing.F) {
	f.Add([]byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 6 {
			return
		}
		m, err := decodeSHT3x(b, stringer("sht"))
		if err == nil && (m["humidity"] < 0 || m["humidity"] > 100 || m["temperature"] < -45 || m["temperature"] > 130) {
			t.Fatalf("%v from % x", m, b)
		}
	})
}

type stringer string

func (s stringer) String() string { return string(s) }

package history

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestBlockRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func(i int) float64
	}{
		{"decimals", func(i int) float64 { return round(21.5+rng.NormFloat64(), 4) }},
		{"integers", func(i int) float64 { return float64(i % 7) }},
		{"full floats", func(i int) float64 { return rng.Float64() * 1e3 }},
		{"tiny", func(i int) float64 { return 1e-12 * float64(i) }},
		{"huge", func(i int) float64 { return 1e300 * float64(i) }},
		{"negative", func(i int) float64 { return -float64(i) / 8 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 500
			times := make([]int64, n)
			a, b := make([]float64, n), make([]float64, n)
			ts := int64(1_700_000_000_000)
			for i := range n {
				ts += 1990 + rng.Int64N(20)
				times[i] = ts
				a[i], b[i] = tc.gen(i), tc.gen(i)
			}
			blk := encodeBlock(times, a, b)
			if blk.n != n || blk.first != times[0] || blk.last != times[n-1] {
				t.Fatalf("header %+v", blk)
			}
			gt, gc, err := decodeBlock(blk.data)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if gt[i] != times[i] || gc[0][i] != a[i] || gc[1][i] != b[i] {
					t.Fatalf("point %d: got %d %v %v, want %d %v %v", i, gt[i], gc[0][i], gc[1][i], times[i], a[i], b[i])
				}
			}
		})
	}
}

func TestBlockIsSmallForSensorReadings(t *testing.T) {
	// A BME280-like temperature at 0.01 °C every ~2 s: about 2 bytes a point.
	n := 1000
	times := make([]int64, n)
	vals := make([]float64, n)
	rng := rand.New(rand.NewPCG(3, 4))
	v := 21.5
	for i := range n {
		times[i] = int64(i)*2000 + rng.Int64N(5)
		v += rng.NormFloat64() * 0.03
		vals[i] = math.Round(v*100) / 100
	}
	blk := encodeBlock(times, vals)
	if per := float64(len(blk.data)) / float64(n); per > 2.5 {
		t.Fatalf("%.2f bytes a point, want <= 2.5", per)
	}
}

func TestRoundAndQuantize(t *testing.T) {
	for _, tc := range []struct{ v, want float64 }{
		{21.123456789, 21.1235}, {1013.2549, 1013.25}, {0.000123456789, 0.000123457}, {12345678, 12345700}, {0, 0}, {-3.33333333, -3.33333},
	} {
		if got := round(tc.v, 6); got != tc.want {
			t.Errorf("round(%v) = %v, want %v", tc.v, got, tc.want)
		}
	}
	if got := quantize(21.337, 0.05); got != 21.35 {
		t.Errorf("quantize = %v", got)
	}
	if got := quantize(1234, 100); got != 1200 {
		t.Errorf("quantize = %v", got)
	}
}

func FuzzDecodeBlock(f *testing.F) {
	f.Add(encodeBlock([]int64{1, 2, 3}, []float64{1.5, 2.5, 3}).data)
	f.Add(encodeBlock([]int64{10, 20}, []float64{1, 2}, []float64{0.1, 0.2}, []float64{math.Pi, math.E}).data)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, cols, err := decodeBlock(data)
		if err != nil {
			return
		}
		for i := 1; i < len(ts); i++ {
			if ts[i] <= ts[i-1] {
				t.Fatal("times not ascending")
			}
		}
		for _, c := range cols {
			if len(c) != len(ts) {
				t.Fatal("column length")
			}
		}
		// What decodes re-encodes to the same points.
		blk := encodeBlock(ts, cols...)
		ts2, cols2, err := decodeBlock(blk.data)
		if err != nil || len(ts2) != len(ts) {
			t.Fatalf("re-encode: %v", err)
		}
		for c := range cols {
			for i := range ts {
				if cols[c][i] != cols2[c][i] && !(math.IsNaN(cols[c][i]) && math.IsNaN(cols2[c][i])) {
					t.Fatalf("col %d point %d: %v != %v", c, i, cols[c][i], cols2[c][i])
				}
			}
		}
	})
}

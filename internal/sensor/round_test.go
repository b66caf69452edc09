package sensor

import (
	"math"
	"strconv"
	"testing"
)

func TestRound(t *testing.T) {
	for _, c := range []struct {
		v, step float64
		want    string
	}{
		{21.153456, 0.01, "21.15"},
		{21.155001, 0.01, "21.16"},
		{21.0625, 0.0625, "21.06"}, // a TMP102 LSB keeps two decimals
		{1013.2549, 0.1, "1013.3"},
		{-3.14159, 0.001, "-3.142"},
		{83.3333, 1, "83"},
		{1234, 10, "1230"},
		{21.153456, 0, "21.153456"},
		{0.1 + 0.2, 0.01, "0.3"},
	} {
		got := strconv.FormatFloat(Round(c.v, c.step), 'f', -1, 64)
		if got != c.want {
			t.Errorf("Round(%v, %v) = %s, want %s", c.v, c.step, got, c.want)
		}
	}
	if !math.IsNaN(Round(math.NaN(), 0.1)) || !math.IsInf(Round(math.Inf(1), 0.1), 1) {
		t.Error("non-finite values changed")
	}
}

// Every driver field states its resolution, so every published reading is
// rounded.
func TestEveryDriverFieldHasAResolution(t *testing.T) {
	for _, d := range Drivers() {
		for _, f := range d.Fields {
			if f.Resolution <= 0 {
				t.Errorf("%s.%s has no resolution", d.Name, f.Name)
			}
		}
	}
	if r := Resolution("bme280", "pressure"); r != 0.01 {
		t.Errorf("bme280 pressure resolution = %v", r)
	}
	if r := Resolution("nosuch", "x"); r != 0 {
		t.Errorf("unknown driver resolution = %v", r)
	}
}

package sensor

import (
	"math"
	"strconv"
)

// Round rounds v to the decimal places of step, a field's Resolution: 0.01
// keeps two decimals, 0.0625 (a TMP102 LSB) keeps two too, 1 none, 10 rounds
// to tens. The result is the float nearest that decimal, so it prints
// without binary noise (21.15, never 21.150000000000002). step <= 0, NaN
// and ±Inf return v unchanged.
func Round(v, step float64) float64 {
	if step <= 0 || math.IsNaN(v) || math.IsInf(v, 0) || math.IsNaN(step) || math.IsInf(step, 0) {
		return v
	}
	d := int(math.Ceil(-math.Log10(step) - 1e-9))
	if d <= 0 {
		p := math.Pow(10, float64(-d))
		return math.Round(v/p) * p
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'f', d, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// Resolution returns the resolution of driver's field (0: unknown, not
// rounded).
func Resolution(driver, field string) float64 {
	d, err := Lookup(driver)
	if err != nil {
		return 0
	}
	for _, f := range d.Fields {
		if f.Name == field {
			return f.Resolution
		}
	}
	return 0
}

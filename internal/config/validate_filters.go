package config

import (
	"fmt"
	"time"
)

// MaxFilterWindow bounds median and moving_average windows.
const MaxFilterWindow = 100

// filters validates one field's filter chain (sensors only).
func (v *validator) filters(p string, fl Field, sensor bool) {
	c := v.c
	if len(fl.Filters) > 0 && !sensor {
		c.add(p+"filters", "filters apply to sensor fields only")
		return
	}
	if len(fl.Filters) > 16 {
		c.add(p+"filters", "%d filters; at most 16", len(fl.Filters))
		return
	}
	for k, f := range fl.Filters {
		fp := fmt.Sprintf("%sfilters[%d]", p, k)
		var keys []string
		for _, key := range []string{"median", "moving_average", "calibrate", "clamp", "delta", "throttle", "timeout"} {
			if c.pos.has(fp + "." + key) {
				keys = append(keys, key)
			}
		}
		if len(keys) != 1 {
			if len(keys) == 0 {
				c.add(fp, "a filter needs one of median, moving_average, calibrate, clamp, delta, throttle, timeout")
			} else {
				c.add(fp+"."+keys[1], "a filter does one thing; %s and %s are both given", keys[0], keys[1])
			}
			continue
		}
		fp += "." + keys[0]
		switch keys[0] {
		case "median":
			window(c, fp, f.Median)
		case "moving_average":
			window(c, fp, f.MovingAverage)
		case "calibrate":
			calibrate(c, fp, f.Calibrate)
		case "clamp":
			if len(f.Clamp) != 2 || !finite(f.Clamp[0]) || !finite(f.Clamp[1]) || f.Clamp[0] > f.Clamp[1] {
				c.add(fp, "want [min, max] with min <= max")
			}
		case "delta":
			if !finite(f.Delta) || f.Delta <= 0 {
				c.add(fp, "must be a positive number")
			}
		case "throttle":
			positive(c, fp, f.Throttle)
		case "timeout":
			positive(c, fp, f.Timeout)
		}
	}
}

func window(c *collector, p string, n int) {
	if n < 1 || n > MaxFilterWindow {
		c.add(p, "window %d is not 1..%d readings", n, MaxFilterWindow)
	}
}

func positive(c *collector, p string, d time.Duration) {
	if d <= 0 {
		c.add(p, "must be a positive duration")
	}
}

func calibrate(c *collector, p string, pts [][]float64) {
	if len(pts) < 2 || len(pts) > 32 {
		c.add(p, "want 2..32 pairs [measured, true], e.g. [[0.5, 0], [99.2, 100]]")
		return
	}
	lo, hi := 0.0, 0.0
	for i, pt := range pts {
		if len(pt) != 2 || !finite(pt[0]) || !finite(pt[1]) {
			c.add(fmt.Sprintf("%s[%d]", p, i), "want a pair [measured, true]")
			return
		}
		if i == 0 || pt[0] < lo {
			lo = pt[0]
		}
		if i == 0 || pt[0] > hi {
			hi = pt[0]
		}
	}
	if lo == hi {
		c.add(p, "the measured values are all %g; a line needs two different ones", lo)
	}
}

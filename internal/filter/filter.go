package filter

import (
	"math"
	"sort"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// Chain runs one field's filters in order.
type Chain struct {
	steps []step
}

type step interface {
	// apply returns the filtered value, or false to drop the reading.
	apply(now time.Time, v float64) (float64, bool)
}

// New builds the chain of fs (validated by config.Load). A nil or empty
// list gives a chain that passes every value.
func New(fs []config.Filter) *Chain {
	c := &Chain{}
	for _, f := range fs {
		switch {
		case f.Median > 0:
			c.steps = append(c.steps, &window{n: f.Median, median: true})
		case f.MovingAverage > 0:
			c.steps = append(c.steps, &window{n: f.MovingAverage})
		case len(f.Calibrate) >= 2:
			c.steps = append(c.steps, fit(f.Calibrate))
		case len(f.Clamp) == 2:
			c.steps = append(c.steps, clamp{f.Clamp[0], f.Clamp[1]})
		case f.Delta > 0:
			c.steps = append(c.steps, &delta{d: f.Delta})
		case f.Throttle > 0:
			c.steps = append(c.steps, &throttle{d: f.Throttle})
		}
	}
	return c
}

// Empty reports whether the chain passes every value unchanged.
func (c *Chain) Empty() bool { return c == nil || len(c.steps) == 0 }

// Apply filters one reading taken at now. ok is false when the reading is
// dropped (delta, throttle, or a non-finite value).
func (c *Chain) Apply(now time.Time, v float64) (out float64, ok bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	if c == nil {
		return v, true
	}
	for _, s := range c.steps {
		if v, ok = s.apply(now, v); !ok {
			return 0, false
		}
	}
	return v, !math.IsNaN(v) && !math.IsInf(v, 0)
}

// window is median or moving average over the last n readings (fewer at
// the start).
type window struct {
	n      int
	median bool
	buf    []float64
	next   int
}

func (w *window) apply(_ time.Time, v float64) (float64, bool) {
	if len(w.buf) < w.n {
		w.buf = append(w.buf, v)
	} else {
		w.buf[w.next] = v
		w.next = (w.next + 1) % w.n
	}
	if !w.median {
		sum := 0.0
		for _, x := range w.buf {
			sum += x
		}
		return sum / float64(len(w.buf)), true
	}
	s := append([]float64(nil), w.buf...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m], true
	}
	return (s[m-1] + s[m]) / 2, true
}

// line is true = a*measured + b.
type line struct{ a, b float64 }

func (l line) apply(_ time.Time, v float64) (float64, bool) { return l.a*v + l.b, true }

// fit is the least-squares line through [measured, true] pairs (exact for
// two points).
func fit(pts [][]float64) line {
	var n, sx, sy, sxx, sxy float64
	for _, p := range pts {
		if len(p) != 2 {
			continue
		}
		n++
		sx += p[0]
		sy += p[1]
		sxx += p[0] * p[0]
		sxy += p[0] * p[1]
	}
	den := n*sxx - sx*sx
	if n < 2 || den == 0 {
		return line{a: 1}
	}
	a := (n*sxy - sx*sy) / den
	return line{a: a, b: (sy - a*sx) / n}
}

type clamp struct{ lo, hi float64 }

func (c clamp) apply(_ time.Time, v float64) (float64, bool) { return min(max(v, c.lo), c.hi), true }

// delta passes a value only when it differs from the last passed one by
// at least d.
type delta struct {
	d    float64
	last float64
	seen bool
}

func (f *delta) apply(_ time.Time, v float64) (float64, bool) {
	if f.seen && math.Abs(v-f.last) < f.d {
		return 0, false
	}
	f.last, f.seen = v, true
	return v, true
}

// throttle passes at most one value per d.
type throttle struct {
	d    time.Duration
	last time.Time
	seen bool
}

func (f *throttle) apply(now time.Time, v float64) (float64, bool) {
	if f.seen && now.Sub(f.last) < f.d {
		return 0, false
	}
	f.last, f.seen = now, true
	return v, true
}

// Set is the chains of one sensor's fields, by metric key.
type Set map[string]*Chain

// ForSensor builds the chains of a sensor's fields that have filters (nil
// when none do).
func ForSensor(s config.Sensor) Set {
	var set Set
	for _, f := range s.Fields {
		if len(f.Filters) == 0 {
			continue
		}
		if set == nil {
			set = Set{}
		}
		set[f.Name] = New(f.Filters)
	}
	return set
}

// Apply filters one reading's metrics in place: filtered values replace
// the readings, dropped ones are removed. Fields without a chain pass.
func (s Set) Apply(now time.Time, fields map[string]any) {
	for k, c := range s {
		v, ok := fields[k].(float64)
		if !ok {
			continue
		}
		if out, keep := c.Apply(now, v); keep {
			fields[k] = out
		} else {
			delete(fields, k)
		}
	}
}

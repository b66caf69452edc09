package history

import "math"

// series is the history of one named quantity. Its fields are guarded by
// Store.mu.
type series struct {
	name   string
	pol    Policy
	tiers  [tiers]*tier // nil when the tier is disabled
	aggs   [tiers]bucket
	last   int64 // newest accepted point (unix ms)
	sig    int
	maxRaw int
	// dropped counts points refused (out of order, or the head was full).
	dropped uint64
	// capped: the raw tier reached maxRaw and dropped its oldest points;
	// capLogged: the store said so (once).
	capped, capLogged bool
	// pinned: configured (declared, or in Options.Fields) or recorded since
	// the store opened; only a series loaded from disk and not pinned may be
	// evicted at the series cap.
	pinned bool
}

// maxHead bounds the unflushed raw points of one series.
const maxHead = 1 << 16

func newSeries(name string, pol Policy, sig, maxRaw int) *series {
	s := &series{name: name, pol: pol, sig: sig, maxRaw: maxRaw}
	for i := range tiers {
		if pol.keep(i) > 0 {
			nc := 1
			if i > 0 {
				nc = 3
			}
			s.tiers[i] = newTier(nc)
		}
	}
	return s
}

func (s *series) value(v float64) float64 {
	if s.pol.Resolution > 0 {
		return quantize(v, s.pol.Resolution)
	}
	return round(v, s.sig)
}

// add records one reading at ts (unix ms); false when refused.
func (s *series) add(ts int64, v float64) bool {
	if ts <= s.last {
		s.dropped++
		return false
	}
	v = s.value(v)
	if raw := s.tiers[0]; raw != nil {
		if len(raw.times) >= s.headCap() {
			s.dropped++
			return false
		}
		raw.add(ts, v)
		if s.maxRaw > 0 && raw.points+len(raw.times) > s.maxRaw {
			// At the cap: the oldest sealed blocks go (the rollups keep
			// their minutes), so the raw tier never holds more than
			// maxRaw points, between flushes too.
			s.capped = raw.expire(math.MinInt64, s.maxRaw) || s.capped
		}
	}
	s.last = ts
	s.aggregate(ts, v)
	return true
}

// headCap is the most unflushed raw points: maxHead, or maxRaw when lower.
func (s *series) headCap() int {
	if s.maxRaw > 0 && s.maxRaw < maxHead {
		return s.maxRaw
	}
	return maxHead
}

// aggregate feeds the rollup buckets, finishing those ts has left.
func (s *series) aggregate(ts int64, v float64) {
	for i := 1; i < tiers; i++ {
		if s.tiers[i] == nil {
			continue
		}
		w := width(i)
		start := ts - mod(ts, w)
		a := &s.aggs[i]
		if a.n > 0 && a.start != start {
			s.finish(i)
		}
		if a.n == 0 {
			a.start = start
		}
		a.add(v)
	}
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// finish moves rollup bucket i into its tier.
func (s *series) finish(i int) {
	a := &s.aggs[i]
	t := s.tiers[i]
	if a.n > 0 && (t.empty() || a.start > t.lastTime()) {
		t.add(a.start, s.value(a.avg()), a.min, a.max)
	}
	*a = bucket{}
}

// tick finishes the rollup buckets that ended by now (unix ms).
func (s *series) tick(now int64) {
	for i := 1; i < tiers; i++ {
		if s.tiers[i] != nil && s.aggs[i].n > 0 && now >= s.aggs[i].start+width(i) {
			s.finish(i)
		}
	}
}

// expire applies retention at now (unix ms).
func (s *series) expire(now int64) {
	for i, t := range s.tiers {
		if t == nil {
			continue
		}
		maxPoints := -1
		if i == 0 && s.maxRaw > 0 {
			maxPoints = s.maxRaw
		}
		if t.expire(now-s.pol.keep(i).Milliseconds(), maxPoints) {
			s.capped = true
		}
	}
}

func (s *series) bytes() int {
	n := 200 + len(s.name)
	for _, t := range s.tiers {
		if t != nil {
			n += t.bytes()
		}
	}
	return n
}

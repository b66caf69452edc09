package history

import "time"

// blockCap is the most points a sealed in-memory block holds; consecutive
// small blocks (one per flush) are merged up to it.
const blockCap = 1024

// tier is one resolution of one series: sealed blocks (persisted, or being
// persisted) and a head of points not yet flushed. Rollup tiers have three
// columns (avg, min, max), the raw tier one.
type tier struct {
	ncols  int
	blocks []block // ascending, non-overlapping; immutable once appended
	times  []int64 // head: not yet flushed
	cols   [maxCols][]float64
	points int // points in blocks
}

func newTier(ncols int) *tier { return &tier{ncols: ncols} }

func (t *tier) empty() bool { return len(t.times) == 0 && len(t.blocks) == 0 }

func (t *tier) lastTime() int64 {
	if n := len(t.times); n > 0 {
		return t.times[n-1]
	}
	if n := len(t.blocks); n > 0 {
		return t.blocks[n-1].last
	}
	return 0
}

// add appends one point to the head; vals has ncols values.
func (t *tier) add(ts int64, vals ...float64) {
	t.times = append(t.times, ts)
	for c := range t.ncols {
		t.cols[c] = append(t.cols[c], vals[c])
	}
}

// seal encodes the head into a block, appends it (merging with the last
// block while small) and returns the head's block for the disk (n == 0:
// nothing new).
func (t *tier) seal() block {
	if len(t.times) == 0 {
		return block{}
	}
	b := encodeBlock(t.times, t.cols[:t.ncols]...)
	t.appendBlock(b)
	t.times = t.times[:0]
	for c := range t.ncols {
		t.cols[c] = t.cols[c][:0]
	}
	return b
}

// appendBlock adds a decoded-valid block after the others (loading or
// sealing); blocks older than the last point are dropped.
func (t *tier) appendBlock(b block) {
	if b.n == 0 || (len(t.blocks) > 0 && b.first <= t.blocks[len(t.blocks)-1].last) {
		return
	}
	if n := len(t.blocks); n > 0 && t.blocks[n-1].n+b.n <= blockCap {
		last := t.blocks[n-1]
		ts1, c1, err1 := decodeBlock(last.data)
		ts2, c2, err2 := decodeBlock(b.data)
		if err1 == nil && err2 == nil {
			for c := range c1 {
				c1[c] = append(c1[c], c2[c]...)
			}
			// A new array, never an element written in place: a query's
			// view (taken under Store.mu, read without it) may hold the
			// old one.
			t.blocks = append(t.blocks[:n-1:n-1], encodeBlock(append(ts1, ts2...), c1...))
			t.points += b.n
			return
		}
	}
	t.blocks = append(t.blocks, b)
	t.points += b.n
}

// expire drops blocks that end before cutoff, and the oldest blocks while
// the tier (blocks and head) holds more than maxPoints (maxPoints < 0: no
// bound). It reports whether the bound dropped a block.
func (t *tier) expire(cutoff int64, maxPoints int) (capped bool) {
	i := 0
	for i < len(t.blocks) && (t.blocks[i].last < cutoff || (maxPoints >= 0 && t.points+len(t.times) > maxPoints)) {
		capped = capped || t.blocks[i].last >= cutoff
		t.points -= t.blocks[i].n
		i++
	}
	if i > 0 {
		t.blocks = append(t.blocks[:0:0], t.blocks[i:]...)
	}
	return capped
}

// bytes estimates the tier's memory.
func (t *tier) bytes() int {
	n := cap(t.times)*8 + cap(t.blocks)*48
	for c := range t.ncols {
		n += cap(t.cols[c]) * 8
	}
	for _, b := range t.blocks {
		n += cap(b.data)
	}
	return n
}

// view is an immutable copy of what a query needs from a tier.
type view struct {
	ncols  int
	blocks []block
	times  []int64
	cols   [maxCols][]float64
}

func (t *tier) view(from int64) view {
	v := view{ncols: t.ncols}
	i := 0
	for i < len(t.blocks) && t.blocks[i].last < from {
		i++
	}
	v.blocks = t.blocks[i:len(t.blocks):len(t.blocks)]
	v.times = append([]int64(nil), t.times...)
	for c := range t.ncols {
		v.cols[c] = append([]float64(nil), t.cols[c]...)
	}
	return v
}

// each calls fn for every point in [from, to] in order.
func (v view) each(from, to int64, fn func(ts int64, vals []float64)) {
	vals := make([]float64, v.ncols)
	emit := func(ts []int64, cols [][]float64) bool {
		for i, x := range ts {
			if x < from {
				continue
			}
			if x > to {
				return false
			}
			for c := range vals {
				vals[c] = cols[c][i]
			}
			fn(x, vals)
		}
		return true
	}
	for _, b := range v.blocks {
		if b.first > to {
			return
		}
		ts, cols, err := decodeBlock(b.data)
		if err != nil {
			continue
		}
		if !emit(ts, cols) {
			return
		}
	}
	emit(v.times, v.cols[:v.ncols])
}

// bucket aggregates points into one rollup bucket.
type bucket struct {
	start    int64
	n        int
	min, max float64
	sum      float64
}

func (b *bucket) add(v float64) {
	if b.n == 0 || v < b.min {
		b.min = v
	}
	if b.n == 0 || v > b.max {
		b.max = v
	}
	b.sum += v
	b.n++
}

func (b *bucket) avg() float64 { return b.sum / float64(b.n) }

func msOf(t time.Time) int64 { return t.UnixMilli() }

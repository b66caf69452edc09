package history

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// ErrUnknown is returned by Query for a series the store has never heard of.
var ErrUnknown = errors.New("history: unknown series")

// MaxQueryPoints bounds one query's answer.
const MaxQueryPoints = 500_000

// Result is the answer to a query. Without a step, Avg holds the values
// (raw readings, or the rollup averages for ranges raw no longer covers)
// and Min, Max are nil.
type Result struct {
	Field string
	Unit  string
	Tier  string        // "raw", "1m" or "15m": where the points came from
	Step  time.Duration // 0 = points as stored
	Times []int64       // unix ms
	Avg   []float64
	Min   []float64
	Max   []float64
}

// Declare makes name known (so queries answer with no points rather than
// ErrUnknown) and sets its unit. It is a no-op for a disabled series. A
// declared series is configured: it is never evicted, and when the store is
// full it evicts the series loaded from disk and neither declared nor
// recorded since Open whose newest point is oldest (refused when there is
// none).
func (s *Store) Declare(name, unit string) {
	s.mu.Lock()
	defer s.unlock()
	se := s.get(name, true)
	if se == nil {
		return
	}
	s.pin(se)
	if unit != "" {
		se.pol.Unit = unit
	}
}

// Names lists the known series, sorted.
func (s *Store) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.series))
	for n := range s.series {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Query returns name's points in [from, to]; step > 0 aggregates them into
// buckets of that width (avg, min, max per bucket).
func (s *Store) Query(name string, from, to time.Time, step time.Duration) (Result, error) {
	if step < 0 {
		return Result{}, fmt.Errorf("history: negative step")
	}
	f, tt := msOf(from), msOf(to)
	if step > 0 && (tt-f)/max(step.Milliseconds(), 1) > MaxQueryPoints {
		return Result{}, fmt.Errorf("history: step %s gives more than %d points", step, MaxQueryPoints)
	}
	nowMs := msOf(s.now())
	s.mu.Lock()
	se, ok := s.series[name]
	if !ok {
		s.mu.Unlock()
		return Result{}, ErrUnknown
	}
	ti := se.pickTier(f, nowMs, step)
	res := Result{Field: name, Unit: se.pol.Unit, Step: step}
	if ti < 0 {
		s.mu.Unlock()
		return res, nil
	}
	res.Tier = tierName(ti)
	// Blocks expire whole; answer exactly the retention.
	f = max(f, nowMs-se.pol.keep(ti).Milliseconds())
	v := se.tiers[ti].view(f)
	open := se.aggs[ti]
	s.mu.Unlock()

	if ti > 0 && open.n > 0 {
		v.times = append(v.times, open.start)
		v.cols[0] = append(v.cols[0], se.value(open.avg()))
		v.cols[1] = append(v.cols[1], open.min)
		v.cols[2] = append(v.cols[2], open.max)
	}
	n := 0
	if step == 0 {
		v.each(f, tt, func(ts int64, vals []float64) {
			if n >= MaxQueryPoints {
				return
			}
			n++
			res.Times = append(res.Times, ts)
			res.Avg = append(res.Avg, vals[0])
		})
		if n >= MaxQueryPoints {
			return Result{}, fmt.Errorf("history: more than %d points; use a step", MaxQueryPoints)
		}
		return res, nil
	}
	w := step.Milliseconds()
	var b bucket
	var mn, mx float64
	emit := func() {
		if b.n == 0 {
			return
		}
		res.Times = append(res.Times, b.start)
		res.Avg = append(res.Avg, se.value(b.avg()))
		res.Min = append(res.Min, mn)
		res.Max = append(res.Max, mx)
	}
	v.each(f, tt, func(ts int64, vals []float64) {
		start := ts - mod(ts, w)
		if b.n > 0 && start != b.start {
			emit()
			b = bucket{}
		}
		lo, hi := vals[0], vals[0]
		if len(vals) == 3 {
			lo, hi = vals[1], vals[2]
		}
		if b.n == 0 {
			b.start, mn, mx = start, lo, hi
		}
		mn, mx = math.Min(mn, lo), math.Max(mx, hi)
		b.add(vals[0])
	})
	emit()
	return res, nil
}

// pickGraceMs: how much older than a tier's retention a query may start
// and still be answered from that tier.
const pickGraceMs = 60_000

// pickTier chooses the tier answering a query from f (unix ms): the finest
// covering f without a step; with a step, the coarsest covering f that is
// no coarser than the step. -1 when no tier is enabled.
func (se *series) pickTier(f, nowMs int64, step time.Duration) int {
	best, longest := -1, -1
	for i, t := range se.tiers {
		if t == nil {
			continue
		}
		if longest < 0 || se.pol.keep(i) > se.pol.keep(longest) {
			longest = i
		}
		// A query for "the last 24 h" computes f a moment before nowMs: a
		// minute of grace keeps it on the raw tier on a slow board.
		if f < nowMs-se.pol.keep(i).Milliseconds()-pickGraceMs {
			continue
		}
		switch {
		case best < 0:
			best = i
		case step > 0 && width(i) <= step.Milliseconds():
			best = i
		}
	}
	if best < 0 {
		return longest
	}
	return best
}

// Stats describe a Store's memory and writes.
type Stats struct {
	Series        int
	Bytes         int            // estimated memory of every series
	SeriesBytes   map[string]int // per series
	Points        [tiers]int     // stored points per tier, all series
	Dropped       uint64         // points refused (out of order, head full, too many series)
	Evicted       uint64         // series evicted for configured ones since Open
	BytesWritten  uint64         // to segment files since Open
	Bursts        uint64         // successful appends
	WriteErrors   uint64
	LastWriteErr  string
	FlushInterval time.Duration
}

// Stats reports memory and write counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	st := Stats{Series: len(s.series), SeriesBytes: map[string]int{}, Dropped: s.refused, Evicted: s.evicted, FlushInterval: s.opts.FlushInterval}
	for n, se := range s.series {
		b := se.bytes()
		st.SeriesBytes[n] = b
		st.Bytes += b
		st.Dropped += se.dropped
		for i, t := range se.tiers {
			if t != nil {
				st.Points[i] += t.points + len(t.times)
			}
		}
	}
	st.LastWriteErr = s.stats.lastErr
	s.mu.Unlock()
	st.BytesWritten, st.Bursts, st.WriteErrors = s.stats.bytes.Load(), s.stats.bursts.Load(), s.stats.errors.Load()
	return st
}

package history

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for Options.Now (no goroutines, no sleeps).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// capBase is the first reading of the cap tests.
var capBase = time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)

// rawOnly keeps raw points for three days (so the time retention never
// binds before the point cap) and no rollups.
func rawOnly() *Policy { return &Policy{Raw: 72 * time.Hour} }

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func bufLogger() (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	return slog.New(slog.NewTextHandler(lb, nil)), lb
}

// TestRawPointCap: a series reading twice a second (a day is 172 800
// readings) keeps at most DefaultMaxRawPoints (86 400) raw points at any
// moment, between flushes too; past the cap the oldest points go (whole
// blocks, so never more than blockCap below the cap), the newest are all
// kept, nothing new is refused, the store logs once that the cap is
// reached, and its memory stops growing.
func TestRawPointCap(t *testing.T) {
	if DefaultMaxRawPoints != 86_400 {
		t.Fatalf("DefaultMaxRawPoints = %d, docs/history.md says 86 400", DefaultMaxRawPoints)
	}
	clk := &fakeClock{t: capBase}
	log, logs := bufLogger()
	s := openT(t, Options{Default: rawOnly(), Now: clk.Now, Logger: log})
	const step = 500 * time.Millisecond
	const perFlush = 600 // the default 5 min flush interval at 2 readings/s
	total := 3 * DefaultMaxRawPoints
	var atCap int
	for i := range total {
		ts := capBase.Add(time.Duration(i) * step)
		clk.Set(ts)
		if !s.Add("fast", ts, sample(i)) {
			t.Fatalf("reading %d refused", i)
		}
		if (i+1)%perFlush == 0 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if i%100 == 0 || i == total-1 {
			st := s.Stats()
			if st.Points[0] > DefaultMaxRawPoints {
				t.Fatalf("after %d readings the raw tier holds %d points (cap %d)", i+1, st.Points[0], DefaultMaxRawPoints)
			}
			if i >= DefaultMaxRawPoints && st.Points[0] < DefaultMaxRawPoints-blockCap {
				t.Fatalf("after %d readings only %d raw points are kept", i+1, st.Points[0])
			}
			if i/100 == DefaultMaxRawPoints/100+10 {
				atCap = st.Bytes
			}
		}
	}
	st := s.Stats()
	if st.Dropped != 0 {
		t.Fatalf("%d readings refused; past the cap the oldest should go instead", st.Dropped)
	}
	// Memory: twice as many readings again past the cap, no more bytes
	// (within a block's worth of slack).
	if st.Bytes > atCap+atCap/20 {
		t.Fatalf("memory grew past the cap: %d bytes at the cap, %d after %d more readings", atCap, st.Bytes, 2*DefaultMaxRawPoints)
	}
	end := capBase.Add(time.Duration(total-1) * step)
	r, err := s.Query("fast", capBase, end, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := len(r.Times)
	if n != st.Points[0] {
		t.Fatalf("query answers %d points, stats say %d", n, st.Points[0])
	}
	// The newest n readings, contiguous and in order: the oldest were dropped.
	for k, ts := range r.Times {
		i := total - n + k
		if want := capBase.Add(time.Duration(i) * step).UnixMilli(); ts != want || r.Avg[k] != sample(i) {
			t.Fatalf("point %d of %d is [%d, %v], want reading %d [%d, %v]", k, n, ts, r.Avg[k], i, want, sample(i))
		}
	}
	if c := strings.Count(logs.String(), "raw point cap"); c != 1 {
		t.Fatalf("the cap was logged %d times, want once:\n%s", c, logs)
	}
}

// TestRawPointCapAtLoad: a history on disk with more raw points than the
// cap (the files are bounded by time, not by count) is trimmed to the cap
// when it is loaded, not only at the first flush after it.
func TestRawPointCapAtLoad(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: capBase}
	const maxRaw = 5000
	o := Options{Dir: dir, Default: rawOnly(), Now: clk.Now, MaxRawPoints: maxRaw, noSync: true}
	s := openT(t, o)
	total := 3 * maxRaw
	for i := range total {
		ts := capBase.Add(time.Duration(i) * time.Second)
		clk.Set(ts)
		s.Add("fast", ts, sample(i))
		if (i+1)%300 == 0 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, o)
	st := s2.Stats()
	if st.Points[0] > maxRaw || st.Points[0] < maxRaw-blockCap {
		t.Fatalf("after the load the raw tier holds %d points (cap %d)", st.Points[0], maxRaw)
	}
	r, err := s2.Query("fast", capBase, clk.Now(), 0)
	if err != nil || len(r.Times) != st.Points[0] {
		t.Fatalf("query: %d points, %v", len(r.Times), err)
	}
	if last := r.Times[len(r.Times)-1]; last != clk.Now().UnixMilli() {
		t.Fatalf("the newest reading was not kept: last point %d, want %d", last, clk.Now().UnixMilli())
	}
	// And the next reading is taken (the series' last point is known).
	if !s2.Add("fast", clk.Now().Add(time.Second), 1) {
		t.Fatal("a new reading after the load was refused")
	}
}

// TestSeriesCap: the store keeps DefaultMaxSeries (256) series; a new
// series past that is refused (Add false, 404 for queries, counted in
// Stats.Dropped, logged once per name), the first 256 keep recording, and
// memory stops growing with the number of names.
func TestSeriesCap(t *testing.T) {
	if DefaultMaxSeries != 256 {
		t.Fatalf("DefaultMaxSeries = %d, docs/history.md says 256", DefaultMaxSeries)
	}
	dir := t.TempDir()
	clk := &fakeClock{t: capBase}
	log, logs := bufLogger()
	o := Options{Dir: dir, Now: clk.Now, Logger: log, noSync: true}
	s := openT(t, o)
	name := func(k int) string { return fmt.Sprintf("s%03d", k) }
	const names = DefaultMaxSeries + 44
	for i := range 3 {
		ts := capBase.Add(time.Duration(i) * time.Second)
		clk.Set(ts)
		var atCap int
		for k := range names {
			if k == DefaultMaxSeries {
				atCap = s.Stats().Bytes
			}
			ok := s.Add(name(k), ts, float64(k))
			if want := k < DefaultMaxSeries; ok != want {
				t.Fatalf("reading %d of series %d: Add = %v, want %v", i, k, ok, want)
			}
		}
		// Memory: the refused series took none.
		if b := s.Stats().Bytes; b != atCap {
			t.Fatalf("reading %d: %d bytes with %d series, %d after %d refused ones", i, atCap, DefaultMaxSeries, b, names-DefaultMaxSeries)
		}
	}
	st := s.Stats()
	if st.Series != DefaultMaxSeries || len(s.Names()) != DefaultMaxSeries {
		t.Fatalf("%d series (%d names), want %d", st.Series, len(s.Names()), DefaultMaxSeries)
	}
	if want := uint64(3 * (names - DefaultMaxSeries)); st.Dropped != want {
		t.Fatalf("Stats.Dropped = %d, want %d (every refused reading)", st.Dropped, want)
	}
	if _, ok := st.SeriesBytes[name(DefaultMaxSeries)]; ok {
		t.Fatal("a refused series holds memory")
	}
	for _, k := range []int{0, DefaultMaxSeries - 1} {
		if r, err := s.Query(name(k), capBase, clk.Now(), 0); err != nil || len(r.Times) != 3 {
			t.Fatalf("series %d: %d points, %v", k, len(r.Times), err)
		}
	}
	if _, err := s.Query(name(DefaultMaxSeries), capBase, clk.Now(), 0); err != ErrUnknown {
		t.Fatalf("a refused series answers %v, want ErrUnknown (404)", err)
	}
	s.Declare("declared_late", "°C")
	if _, err := s.Query("declared_late", capBase, clk.Now(), 0); err != ErrUnknown {
		t.Fatalf("Declare past the cap made a series: %v", err)
	}
	out := logs.String()
	for k := DefaultMaxSeries; k < names; k++ {
		if c := strings.Count(out, "series="+name(k)+" "); c != 1 {
			t.Fatalf("refused series %s logged %d times, want once:\n%s", name(k), c, out)
		}
	}
	if strings.Contains(out, "series="+name(DefaultMaxSeries-1)+" ") {
		t.Fatalf("a kept series was logged as refused:\n%s", out)
	}

	// Reopened: the same 256 series come back from disk, the cap still holds.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, o)
	if got := s2.Names(); len(got) != DefaultMaxSeries || got[0] != name(0) || got[len(got)-1] != name(DefaultMaxSeries-1) {
		t.Fatalf("after a reopen: %d series %v..%v", len(got), got[0], got[len(got)-1])
	}
	if s2.Add(name(names), clk.Now().Add(time.Second), 1) {
		t.Fatal("a new series was taken after a reopen of a full store")
	}
}

// TestRefusedSeriesLogIsBounded: a flood of distinct refused names (a
// serial device spraying keys) logs a bounded number of lines.
func TestRefusedSeriesLogIsBounded(t *testing.T) {
	log, logs := bufLogger()
	s := openT(t, Options{MaxSeries: 1, Logger: log})
	s.Add("kept", capBase, 1)
	for k := range 10_000 {
		s.Add(fmt.Sprintf("junk%d", k), capBase, 1)
	}
	if n := strings.Count(logs.String(), "\n"); n > maxRefusedLogged+1 {
		t.Fatalf("%d log lines for 10 000 refused names", n)
	}
	if st := s.Stats(); st.Dropped != 10_000 || st.Series != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

// TestQueryWhileFlushing runs queries against a series while it records
// and flushes (run with -race: a query reads sealed blocks without the
// lock, so a flush must never change a block a query may hold).
func TestQueryWhileFlushing(t *testing.T) {
	clk := &fakeClock{t: capBase}
	s := openT(t, Options{Now: clk.Now})
	s.Declare("a", "")
	const total = 20_000
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range total {
			ts := capBase.Add(time.Duration(i) * time.Second)
			clk.Set(ts)
			s.Add("a", ts, sample(i))
			if i%50 == 49 {
				_ = s.Flush()
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			r, err := s.Query("a", capBase, capBase.Add(total*time.Second), 0)
			if err != nil {
				t.Error(err)
				return
			}
			for k, ts := range r.Times {
				i := int((ts - capBase.UnixMilli()) / 1000)
				if r.Avg[k] != sample(i) || (k > 0 && ts <= r.Times[k-1]) {
					t.Errorf("point %d: [%d, %v], want %v", k, ts, r.Avg[k], sample(i))
					return
				}
			}
		}
	})
	wg.Wait()
}

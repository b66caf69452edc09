package history

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// sample is the deterministic reading i of a test series.
func sample(i int) float64 { return 20 + float64(i%100)/10 }

func openT(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRollupsOnAFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openT(t, Options{Dir: t.TempDir()})
		start := time.Now()
		// Two hours of readings every 2 s (values 20.0 .. 29.9 cycling).
		for i := range 3600 {
			s.Add("air_temp", time.Now(), sample(i))
			time.Sleep(2 * time.Second)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		r, err := s.Query("air_temp", start, time.Now(), 0)
		if err != nil || r.Tier != "raw" || len(r.Times) != 3600 {
			t.Fatalf("raw: tier %q, %d points, err %v", r.Tier, len(r.Times), err)
		}
		// The one-minute tier: every finished minute, each of 30 readings.
		m, err := s.Query("air_temp", start, time.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if m.Tier != "1m" || len(m.Times) != 120 {
			t.Fatalf("1m: tier %q, %d buckets", m.Tier, len(m.Times))
		}
		for k := range m.Times {
			lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
			for i := k * 30; i < k*30+30; i++ {
				v := sample(i)
				lo, hi, sum = math.Min(lo, v), math.Max(hi, v), sum+v
			}
			if m.Min[k] != lo || m.Max[k] != hi || math.Abs(m.Avg[k]-sum/30) > 1e-4 {
				t.Fatalf("bucket %d: avg/min/max %v/%v/%v, want %v/%v/%v", k, m.Avg[k], m.Min[k], m.Max[k], sum/30, lo, hi)
			}
			if want := start.UnixMilli() + int64(k)*60_000; m.Times[k] != want-mod(want, 60_000) {
				t.Fatalf("bucket %d starts at %d", k, m.Times[k])
			}
		}
		q, err := s.Query("air_temp", start, time.Now(), 15*time.Minute)
		if err != nil || q.Tier != "15m" || len(q.Times) != 8 {
			t.Fatalf("15m: tier %q, %d buckets, %v", q.Tier, len(q.Times), err)
		}
	})
}

func TestRetentionOnAFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		// Flushing every 48 h keeps the test fast (each flush syncs files).
		s := openT(t, Options{Dir: dir, FlushInterval: 48 * time.Hour, noSync: true})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = s.Run(ctx) })
		start := time.Now()
		// 400 days, a reading every hour.
		for i := range 400 * 24 {
			s.Add("air_temp", time.Now(), sample(i))
			time.Sleep(time.Hour)
		}
		now := time.Now()
		cancel()
		wg.Wait()
		check := func(s *Store) {
			t.Helper()
			raw, _ := s.Query("air_temp", start, now, 0)
			if len(raw.Times) == 0 || raw.Tier != "15m" {
				t.Fatalf("a 400-day query comes from %q", raw.Tier)
			}
			if raw.Times[0] < now.Add(-365*24*time.Hour).UnixMilli() {
				t.Fatal("15m tier keeps more than a year")
			}
			week, _ := s.Query("air_temp", now.Add(-7*24*time.Hour), now, 0)
			if week.Tier != "1m" || len(week.Times) < 7*24-1 || len(week.Times) > 7*24+1 {
				t.Fatalf("week: %q %d", week.Tier, len(week.Times))
			}
			day, _ := s.Query("air_temp", now.Add(-24*time.Hour), now, 0)
			if day.Tier != "raw" || len(day.Times) != 24 {
				t.Fatalf("day: %q %d", day.Tier, len(day.Times))
			}
			st := s.Stats()
			if st.Points[0] > 24+blockCap || st.Points[1] > 7*24+blockCap || st.Points[2] > 365*96+blockCap { // blocks expire whole
				t.Fatalf("points kept beyond retention: %v", st.Points)
			}
		}
		check(s)
		// Files: raw for a day, 1m for a week, 15m for a year (+ the current period).
		ents, _ := os.ReadDir(dir)
		count := map[string]int{}
		for _, e := range ents {
			count[strings.SplitN(e.Name(), "-", 2)[0]]++
		}
		if count["raw"] > 26 || count["1m"] > 9 || count["15m"] > 14 {
			t.Fatalf("expired segments kept: %v", count)
		}
		check(openT(t, Options{Dir: dir}))
	})
}

func TestHistorySurvivesReopen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s := openT(t, Options{Dir: dir})
		start := time.Now()
		for i := range 500 {
			s.Add("a", time.Now(), sample(i))
			s.Add("relay", time.Now(), float64(i/10%2))
			time.Sleep(2 * time.Second)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		want, _ := s.Query("a", start, time.Now(), 0)
		wantM, _ := s.Query("a", start, time.Now(), time.Minute)
		s2 := openT(t, Options{Dir: dir})
		got, err := s2.Query("a", start, time.Now(), 0)
		if err != nil || len(got.Times) != 500 {
			t.Fatalf("reopened: %d points, %v", len(got.Times), err)
		}
		for i := range got.Times {
			if got.Times[i] != want.Times[i] || got.Avg[i] != want.Avg[i] {
				t.Fatalf("point %d differs", i)
			}
		}
		gotM, _ := s2.Query("a", start, time.Now(), time.Minute)
		if len(gotM.Times) != len(wantM.Times) {
			t.Fatalf("rollups after reopen: %d buckets, want %d", len(gotM.Times), len(wantM.Times))
		}
		// Readings go on after the restart, into the same open bucket.
		for i := 500; i < 600; i++ {
			s2.Add("a", time.Now(), sample(i))
			time.Sleep(2 * time.Second)
		}
		_ = s2.Flush()
		all, _ := s2.Query("a", start, time.Now(), 0)
		if len(all.Times) != 600 {
			t.Fatalf("%d points after more readings", len(all.Times))
		}
		m, _ := s2.Query("a", start, time.Now(), time.Minute)
		for k := 1; k < len(m.Times); k++ {
			if m.Times[k] <= m.Times[k-1] {
				t.Fatal("duplicate rollup bucket after restart")
			}
		}
	})
}

func TestFlushWritesOneBurstPerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s := openT(t, Options{Dir: dir})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = s.Run(ctx) })
		for range 30 * 60 / 2 { // half an hour at 2 s
			for f := range 10 {
				s.Add("f"+string(rune('0'+f)), time.Now(), 21.5)
			}
			time.Sleep(2 * time.Second)
		}
		synctest.Wait()
		st := s.Stats()
		// Six flush ticks; each writes raw and 1m, and 15m when a bucket ended.
		if st.Bursts < 12 || st.Bursts > 18 {
			t.Fatalf("%d appends in 30 min, want one burst (2-3 files) per 5 min", st.Bursts)
		}
		s.Add("f0", time.Now(), 22) // unflushed at shutdown
		cancel()
		wg.Wait()
		if s.Stats().Bursts <= st.Bursts {
			t.Fatal("no final flush at shutdown")
		}
	})
}

func TestTornTailIsSkippedAndTruncated(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	s := openT(t, Options{Dir: dir, Now: now})
	for i := range 100 {
		s.Add("a", clock, sample(i))
		clock = clock.Add(2 * time.Second)
	}
	_ = s.Flush()
	for i := 100; i < 200; i++ {
		s.Add("a", clock, sample(i))
		clock = clock.Add(2 * time.Second)
	}
	_ = s.Flush()
	path := filepath.Join(dir, segName(0, clock))
	data, _ := os.ReadFile(path)
	// Cut the second record in half: a power cut mid-write.
	var first int
	_, _ = readSegment(data, func(string, block) {})
	first = len(segMagic) + recHeader + int(uint32(data[8])|uint32(data[9])<<8|uint32(data[10])<<16|uint32(data[11])<<24)
	cut := first + (len(data)-first)/2
	if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, Options{Dir: dir, Now: now})
	r, _ := s2.Query("a", clock.Add(-time.Hour), clock, 0)
	if len(r.Times) != 100 {
		t.Fatalf("%d points after a torn tail, want the first 100", len(r.Times))
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(first) {
		t.Fatalf("torn tail not truncated: %d bytes, want %d", fi.Size(), first)
	}
	for i := 200; i < 250; i++ {
		s2.Add("a", clock, sample(i))
		clock = clock.Add(2 * time.Second)
	}
	_ = s2.Flush()
	r, _ = openT(t, Options{Dir: dir, Now: now}).Query("a", clock.Add(-time.Hour), clock, 0)
	if len(r.Times) != 150 {
		t.Fatalf("%d points after appending past the truncated tail, want 150", len(r.Times))
	}
}

func TestPolicyDisablesAndUnknownSeries(t *testing.T) {
	s := openT(t, Options{Fields: map[string]Policy{"off": {Disabled: true}, "short": {Raw: time.Hour, Unit: "V"}}})
	now := time.Now()
	if s.Add("off", now, 1) {
		t.Fatal("disabled series recorded")
	}
	if _, err := s.Query("off", now.Add(-time.Hour), now, 0); err != ErrUnknown {
		t.Fatalf("disabled series: %v", err)
	}
	s.Declare("short", "")
	r, err := s.Query("short", now.Add(-time.Hour), now, 0)
	if err != nil || r.Unit != "V" || len(r.Times) != 0 {
		t.Fatalf("declared series: %+v %v", r, err)
	}
	if s.Add("x", now, math.NaN()) || !s.Add("x", now, 1) || s.Add("x", now, 2) {
		t.Fatal("NaN or duplicate time accepted")
	}
	names := s.Names()
	sort.Strings(names)
	if strings.Join(names, ",") != "short,x" {
		t.Fatalf("names %v", names)
	}
}

package history

import (
	"bufio"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/meshbox/meshbox/internal/sensor/drift"
)

// day10 generates one day of 10 series at 2 s: two simulated climate
// sensors (temperature, humidity, pressure, lux: package drift, the same
// walk the -sim hardware uses) and two relays switching every ~20 minutes.
// quantized rounds the climate readings to what real sensors report
// (0.01 °C, 0.01 %RH, 0.01 hPa, 1 lx); otherwise they are full floats and
// the store keeps DefaultSigDigits.
func day10(quantized bool, emit func(i int, ts time.Time, name string, v float64), flush func(now time.Time)) {
	start := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	var clock time.Time
	now := func() time.Time { return clock }
	envs := []*drift.Env{drift.New(1, now, drift.Climate()...), drift.New(2, now, drift.Climate()...)}
	res := map[string]float64{"temperature": 0.01, "humidity": 0.01, "pressure": 0.01, "lux": 1}
	const n = 24 * 3600 / 2
	for i := range n {
		// Readings are taken on a 2 s ticker and stamped when they arrive.
		clock = start.Add(time.Duration(i)*2*time.Second + time.Duration((i*7919)%13)*time.Millisecond)
		for k, e := range envs {
			for _, sp := range e.Specs() {
				v := e.Get(sp.Name)
				if quantized {
					v = quantize(v, res[sp.Name])
				}
				emit(i, clock, "s"+strconv.Itoa(k)+"_"+sp.Name, v)
			}
		}
		emit(i, clock, "heater", float64(i/600%2))
		emit(i, clock, "fan", float64(i/437%2))
		if (i+1)%150 == 0 { // the 5-minute flush
			flush(clock)
		}
	}
	flush(clock)
}

// BenchmarkBytesPerDay measures bytes written to the state directory for
// one day of 10 series at 2 s with the segment store (flush every 5 min).
func BenchmarkBytesPerDay(b *testing.B) {
	for _, q := range []bool{true, false} {
		name := "sensor-resolution"
		if !q {
			name = "full-floats"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				dir := b.TempDir()
				var clock time.Time
				s, err := Open(Options{Dir: dir, Now: func() time.Time { return clock }})
				if err != nil {
					b.Fatal(err)
				}
				w0 := wchar(b)
				day10(q, func(_ int, ts time.Time, n string, v float64) { clock = ts; s.Add(n, ts, v) }, func(now time.Time) {
					clock = now
					if err := s.Flush(); err != nil {
						b.Fatal(err)
					}
				})
				b.ReportMetric(float64(s.Stats().BytesWritten), "B/day")
				b.ReportMetric(float64(wchar(b)-w0), "wchar/day")
				b.ReportMetric(float64(dirSize(b, dir)), "B-on-disk")
				st := s.Stats()
				b.ReportMetric(float64(st.SeriesBytes["s0_temperature"]), "mem-B/series")
			}
		})
	}
}

// BenchmarkBytesPerDayBolt writes the same flushes into go.etcd.io/bbolt
// (one transaction per 5-minute flush, one key per series and flush, the
// same encoded blocks as values) and measures what the process wrote.
func BenchmarkBytesPerDayBolt(b *testing.B) {
	for range b.N {
		dir := b.TempDir()
		db, err := bolt.Open(filepath.Join(dir, "history.db"), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		type pend struct {
			t []int64
			v []float64
		}
		heads := map[string]*pend{}
		w0 := wchar(b)
		day10(true, func(_ int, ts time.Time, n string, v float64) {
			p := heads[n]
			if p == nil {
				p = &pend{}
				heads[n] = p
			}
			p.t = append(p.t, ts.UnixMilli())
			p.v = append(p.v, v)
		}, func(time.Time) {
			err := db.Update(func(tx *bolt.Tx) error {
				for n, p := range heads {
					if len(p.t) == 0 {
						continue
					}
					bk, err := tx.CreateBucketIfNotExists([]byte(n))
					if err != nil {
						return err
					}
					key := binary.BigEndian.AppendUint64(nil, uint64(p.t[0]))
					if err := bk.Put(key, encodeBlock(p.t, p.v).data); err != nil {
						return err
					}
					p.t, p.v = p.t[:0], p.v[:0]
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
		b.ReportMetric(float64(wchar(b)-w0), "wchar/day")
		_ = db.Close()
		b.ReportMetric(float64(dirSize(b, dir)), "B-on-disk")
	}
}

// wchar is the bytes this process passed to write(2) and friends so far.
func wchar(b *testing.B) uint64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		b.Skip("no /proc/self/io")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "wchar: "); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}

func dirSize(b *testing.B, dir string) int64 {
	var n int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// BenchmarkMemoryPerSeries fills one series at the default policy to its
// steady state (a reading every 2 s for the last 7 days, every 15 minutes
// for the year before) and reports the store's memory for it.
func BenchmarkMemoryPerSeries(b *testing.B) {
	for range b.N {
		end := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
		clock := end.Add(-365 * 24 * time.Hour)
		s, _ := Open(Options{Now: func() time.Time { return clock }})
		e := drift.New(7, func() time.Time { return clock }, drift.Climate()...)
		i := 0
		for clock.Before(end) {
			s.Add("air_temp", clock, quantize(e.Get("temperature"), 0.01))
			step := 15 * time.Minute
			if end.Sub(clock) <= 7*24*time.Hour {
				step = 2 * time.Second
			}
			clock = clock.Add(step)
			if i++; i%150 == 0 {
				_ = s.Flush()
			}
		}
		_ = s.Flush()
		st := s.Stats()
		b.ReportMetric(float64(st.SeriesBytes["air_temp"]), "B/series")
		b.ReportMetric(float64(st.Points[0]), "raw-points")
		b.ReportMetric(float64(st.Points[1]), "1m-points")
		b.ReportMetric(float64(st.Points[2]), "15m-points")
	}
}

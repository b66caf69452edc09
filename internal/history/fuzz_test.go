package history

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to the loader as a segment file: it must
// never panic, and the store must stay writable and readable after it.
func FuzzLoad(f *testing.F) {
	clock := time.Date(2026, 12, 4, 3, 30, 0, 0, time.UTC)
	var good []byte
	good = append(good, segMagic...)
	good = appendRecord(good, []entry{
		{name: "air_temp", data: encodeBlock([]int64{clock.Add(-time.Minute).UnixMilli(), clock.Add(-58 * time.Second).UnixMilli()}, []float64{21.5, 21.6}).data},
		{name: "relay", data: encodeBlock([]int64{clock.Add(-time.Minute).UnixMilli()}, []float64{1}).data},
	})
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(append([]byte{}, good...), good[len(segMagic):]...))
	f.Add([]byte(segMagic))
	f.Add([]byte("MBHIST"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		now := func() time.Time { return clock }
		if err := os.WriteFile(filepath.Join(dir, segName(0, clock)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{Dir: dir, Now: now, noSync: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range s.Names() {
			r, err := s.Query(n, clock.Add(-48*time.Hour), clock, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(r.Times); i++ {
				if r.Times[i] <= r.Times[i-1] {
					t.Fatalf("%s: times not ascending", n)
				}
			}
			if _, err := s.Query(n, clock.Add(-48*time.Hour), clock, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		at := clock.Add(time.Second)
		s.Add("probe", at, 42)
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		s2, err := Open(Options{Dir: dir, Now: now, noSync: true})
		if err != nil {
			t.Fatal(err)
		}
		r, err := s2.Query("probe", clock, at, 0)
		if err != nil || len(r.Times) != 1 || r.Avg[0] != 42 {
			t.Fatalf("a point written after loading this file is lost: %+v %v", r, err)
		}
	})
}

package history

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// diskSeries lists the series names with an entry in any segment file of
// dir.
func diskSeries(t *testing.T, dir string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), tmpSuffix) {
			t.Fatalf("a temporary file is left: %s", e.Name())
		}
		if _, _, ok := parseSegName(e.Name()); !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readSegment(data, func(name string, _ block) { names[name] = true }); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
	}
	return names
}

// TestStaleSeriesEvicted: a store full of series from an old config (256
// on disk), reopened with a config that declares 10 new ones. The new ones
// take the slots of the 10 undeclared loaded series whose newest point is
// oldest: they record and /api/history serves them; the evicted ones are
// gone from memory, the API and the disk (also after another reopen), each
// eviction is logged once at INFO naming both; the other old series still
// answer, and an old series declared or recorded since the reopen is kept
// even though its newest point is among the oldest.
func TestStaleSeriesEvicted(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: capBase}
	o := Options{Dir: dir, Now: clk.Now, noSync: true}
	old := func(k int) string { return fmt.Sprintf("old%03d", k) }
	fresh := func(k int) string { return fmt.Sprintf("new%03d", k) }
	s := openT(t, o)
	for k := range DefaultMaxSeries { // old k's newest point is k seconds in
		ts := capBase.Add(time.Duration(k) * time.Second)
		clk.Set(ts)
		if !s.Add(old(k), ts, float64(k)) {
			t.Fatalf("old series %d refused", k)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	reopen := capBase.Add(time.Hour)
	clk.Set(reopen)
	log, logs := bufLogger()
	o.Logger = log
	s2 := openT(t, o)
	if n := len(s2.Names()); n != DefaultMaxSeries {
		t.Fatalf("%d series loaded, want %d", n, DefaultMaxSeries)
	}
	// Pinned before the new config's series arrive: old007 recorded, old003
	// declared (both among the ten oldest).
	if !s2.Add(old(7), reopen, 7) {
		t.Fatal("a loaded series refused a reading")
	}
	s2.Declare(old(3), "")
	for k := range 10 {
		s2.Declare(fresh(k), "°C")
	}
	for i := range 5 {
		ts := reopen.Add(time.Duration(i+1) * time.Second)
		clk.Set(ts)
		for k := range 10 {
			if !s2.Add(fresh(k), ts, float64(100+k)) {
				t.Fatalf("reading %d of the configured series %s refused", i, fresh(k))
			}
		}
	}
	if err := s2.Flush(); err != nil {
		t.Fatal(err)
	}
	evicted := []int{0, 1, 2, 4, 5, 6, 8, 9, 10, 11}
	gone := map[string]bool{}
	for _, k := range evicted {
		gone[old(k)] = true
	}

	st := s2.Stats()
	if st.Series != DefaultMaxSeries || st.Evicted != 10 || st.Dropped != 0 {
		t.Fatalf("stats: %d series, %d evicted, %d dropped; want %d, 10, 0", st.Series, st.Evicted, st.Dropped, DefaultMaxSeries)
	}
	srv := httptest.NewServer(Handler(HTTPOptions{Store: s2, Now: clk.Now}))
	defer srv.Close()
	for k := range 10 {
		code, body, _ := get(t, srv, "field="+fresh(k)+"&since=2h", "")
		var a apiAnswer
		if code != 200 || json.Unmarshal([]byte(body), &a) != nil || a.Unit != "°C" || len(a.Points) != 5 || a.Points[4][1] != float64(100+k) {
			t.Fatalf("GET %s: %d %s", fresh(k), code, body)
		}
	}
	for name := range gone {
		if _, err := s2.Query(name, capBase, clk.Now(), 0); err != ErrUnknown {
			t.Fatalf("evicted %s answers %v, want ErrUnknown", name, err)
		}
		if code, body, _ := get(t, srv, "field="+name+"&since=2h", ""); code != 404 {
			t.Fatalf("GET evicted %s: %d %s", name, code, body)
		}
		if _, ok := st.SeriesBytes[name]; ok {
			t.Fatalf("evicted %s holds memory", name)
		}
	}
	for k := range DefaultMaxSeries {
		if gone[old(k)] {
			continue
		}
		want := 1
		if k == 7 {
			want = 2
		}
		r, err := s2.Query(old(k), capBase, clk.Now(), 0)
		if err != nil || len(r.Times) != want || r.Avg[0] != float64(k) {
			t.Fatalf("old series %s after the evictions: %v points, %v", old(k), r.Avg, err)
		}
	}
	out := logs.String()
	if c := strings.Count(out, "evicted="); c != 10 {
		t.Fatalf("%d evictions logged, want 10:\n%s", c, out)
	}
	for i, k := range evicted {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "evicted="+old(k)+" ") {
				line = l
			}
		}
		if !strings.Contains(line, "level=INFO") || !strings.Contains(line, "for="+fresh(i)+" ") {
			t.Fatalf("eviction of %s for %s logged as %q", old(k), fresh(i), line)
		}
	}

	// The disk: the evicted series' entries are deleted, the rest kept.
	disk := diskSeries(t, dir)
	for k := range DefaultMaxSeries {
		if disk[old(k)] == gone[old(k)] {
			t.Fatalf("%s on disk: %v, evicted: %v", old(k), disk[old(k)], gone[old(k)])
		}
	}
	for k := range 10 {
		if !disk[fresh(k)] {
			t.Fatalf("%s is not on disk", fresh(k))
		}
	}
	if len(disk) != DefaultMaxSeries {
		t.Fatalf("%d series on disk, want %d", len(disk), DefaultMaxSeries)
	}

	// Reopened again: the same 256, the new ones with their points.
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := openT(t, o)
	if n := len(s3.Names()); n != DefaultMaxSeries {
		t.Fatalf("%d series after another reopen", n)
	}
	for name := range gone {
		if _, err := s3.Query(name, capBase, clk.Now(), 0); err != ErrUnknown {
			t.Fatalf("evicted %s came back: %v", name, err)
		}
	}
	for k := range 10 {
		if r, err := s3.Query(fresh(k), capBase, clk.Now(), 0); err != nil || len(r.Times) != 5 {
			t.Fatalf("%s after another reopen: %d points, %v", fresh(k), len(r.Times), err)
		}
	}
}

// TestPinnedSeriesNeverEvicted: series recorded in this process, declared,
// or configured (Options.Fields) are never evicted; a configured series
// recorded without Declare evicts too, a name nothing configures does not.
func TestPinnedSeriesNeverEvicted(t *testing.T) {
	// All recorded in this process: nothing to evict, Declare is refused.
	s := openT(t, Options{MaxSeries: 3})
	for k, n := range []string{"a", "b", "c"} {
		s.Add(n, capBase.Add(time.Duration(k)*time.Second), 1)
	}
	s.Declare("x", "")
	if s.Add("x", capBase.Add(time.Minute), 1) || len(s.Names()) != 3 || s.Stats().Evicted != 0 {
		t.Fatalf("a series recorded in this process was evicted: %v", s.Names())
	}

	// Loaded: a (oldest), b, c, d (newest).
	dir := t.TempDir()
	clk := &fakeClock{t: capBase}
	o := Options{Dir: dir, Now: clk.Now, MaxSeries: 4, noSync: true}
	s = openT(t, o)
	for k, n := range []string{"a", "b", "c", "d"} {
		ts := capBase.Add(time.Duration(k) * time.Second)
		clk.Set(ts)
		s.Add(n, ts, float64(k))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Set(capBase.Add(time.Minute))
	o.Fields = map[string]Policy{"b": DefaultPolicy(), "cfg": DefaultPolicy()} // b: still configured
	s = openT(t, o)
	if !s.Add("a", clk.Now(), 10) { // recorded: pinned, though its newest point was the oldest
		t.Fatal("a refused")
	}
	if s.Add("junk", clk.Now(), 1) { // nothing configures it: it evicts nothing
		t.Fatal("an unconfigured series took a slot")
	}
	s.Declare("x", "")         // evicts c: b is configured
	s.Add("cfg", clk.Now(), 5) // configured: evicts d without a Declare
	s.Declare("y", "")         // nothing left to evict
	if got, want := strings.Join(s.Names(), ","), "a,b,cfg,x"; got != want {
		t.Fatalf("series %s, want %s", got, want)
	}
	if r, err := s.Query("a", capBase, clk.Now(), 0); err != nil || len(r.Times) != 2 {
		t.Fatalf("a: %v, %v", r.Avg, err)
	}
	if st := s.Stats(); st.Evicted != 2 {
		t.Fatalf("%d evicted, want 2", st.Evicted)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	disk := diskSeries(t, dir)
	if disk["c"] || disk["d"] || !disk["a"] || !disk["b"] || !disk["cfg"] {
		t.Fatalf("on disk: %v", disk)
	}
}

// TestFilterRecords: a record holding only dropped series is left out, one
// holding some is framed anew, the others are copied.
func TestFilterRecords(t *testing.T) {
	blk := encodeBlock([]int64{1, 2}, []float64{3, 4}).data
	var recs []byte
	recs = appendRecord(recs, []entry{{"a", blk}, {"b", blk}})
	recs = appendRecord(recs, []entry{{"b", blk}})
	keep := appendRecord(nil, []entry{{"c", blk}})
	recs = append(recs, keep...)
	torn := []byte{9, 0, 0, 0, 1}
	recs = append(recs, torn...)
	out, changed := filterRecords(nil, recs, map[string]bool{"b": true})
	if !changed {
		t.Fatal("nothing changed")
	}
	var names []string
	good, err := readSegment(append([]byte(segMagic), out...), func(n string, _ block) { names = append(names, n) })
	if err != errTorn || strings.Join(names, ",") != "a,c" || string(out[good-len(segMagic):]) != string(torn) {
		t.Fatalf("after filtering: %v %v %x", names, err, out)
	}
	if out2, changed := filterRecords(nil, out, map[string]bool{"z": true}); changed || string(out2) != string(out) {
		t.Fatal("a filter that drops nothing changed the records")
	}
}

// TestExpiredSeriesNotLoaded: a series whose points have all expired is not
// made at load (it would take a slot for nothing).
func TestExpiredSeriesNotLoaded(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: capBase}
	o := Options{Dir: dir, Now: clk.Now, Default: &Policy{Raw: time.Hour}, noSync: true}
	s := openT(t, o)
	s.Add("gone", capBase, 1)
	clk.Set(capBase.Add(90 * time.Minute))
	s.Add("live", clk.Now(), 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Set(capBase.Add(2 * time.Hour))
	if got := openT(t, o).Names(); len(got) != 1 || got[0] != "live" {
		t.Fatalf("loaded %v, want [live]", got)
	}
}

// TestRewriteLeftoverRemovedAtLoad: a purge cut short by a power cut
// leaves atomicfile's temporary file beside an intact segment; the next
// Open removes it and loads the segment as it was.
func TestRewriteLeftoverRemovedAtLoad(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: capBase}
	o := Options{Dir: dir, Now: clk.Now, noSync: true}
	s := openT(t, o)
	if !s.Add("air_temp", capBase, 21.5) {
		t.Fatal("refused")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var seg string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if _, _, ok := parseSegName(e.Name()); ok {
			seg = e.Name()
		}
	}
	if seg == "" {
		t.Fatal("no segment written")
	}
	leftover := filepath.Join(dir, "."+seg+".123456.tmp")
	if err := os.WriteFile(leftover, []byte("half a rewrite"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, o)
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("the leftover of a rewrite is still there: %v", err)
	}
	if !diskSeries(t, dir)["air_temp"] {
		t.Fatal("the intact segment was not kept")
	}
	r, err := s2.Query("air_temp", capBase.Add(-time.Minute), capBase.Add(time.Minute), 0)
	if err != nil || len(r.Times) != 1 || r.Avg[0] != 21.5 {
		t.Fatalf("air_temp after the reopen: %+v %v", r, err)
	}
}

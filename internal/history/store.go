package history

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Store. Zero fields get the defaults.
type Options struct {
	// Dir keeps the segment files ("" = memory only, nothing persisted).
	Dir    string
	Logger *slog.Logger
	// FlushInterval is the most often a burst is written (default 5m).
	FlushInterval time.Duration
	// Default is the policy of series not in Fields (zero: DefaultPolicy).
	Default *Policy
	// Fields overrides the policy per series name.
	Fields       map[string]Policy
	SigDigits    int // default DefaultSigDigits
	MaxRawPoints int // per series, default DefaultMaxRawPoints
	MaxSeries    int // default DefaultMaxSeries
	// Now is the clock (time.Now when nil; tests use testing/synctest).
	Now func() time.Time
	// noSync skips fsync (tests that simulate months of flushes).
	noSync bool
}

// Store is the history of every series. It is safe for concurrent use.
type Store struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time

	mu     sync.Mutex // guards series, spare, purge, evicted, refused, refusedNames, notes; never held across I/O
	series map[string]*series
	// spare counts the series that are not pinned (loaded from disk, and
	// neither configured nor recorded since Open): the ones a configured
	// series may evict at the cap.
	spare int
	// purge are the evicted series whose segment entries the next flush
	// deletes; evicted counts evictions.
	purge   []string
	evicted uint64
	// refused counts points for series beyond MaxSeries; refusedNames are
	// the names logged (at most maxRefusedLogged).
	refused      uint64
	refusedNames map[string]bool
	refusedMuted bool // maxRefusedLogged names were logged
	// notes are log lines queued under mu, written by unlock.
	notes []note

	flushMu sync.Mutex // serialises flushes (held across file I/O, never by Add, Query or Stats)
	retry   [tiers][]byte
	stats   ioStats // atomics; lastErr guarded by mu
	// midWrite, when set (tests), runs after the first half of a burst is
	// written and before the rest.
	midWrite func()
}

type ioStats struct {
	bytes, bursts, errors atomic.Uint64
	lastErr               string
}

// Open loads the history in opts.Dir (creating it) and returns the Store.
// A torn tail is skipped and truncated; a foreign file is logged and left
// alone.
func Open(opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Default == nil {
		p := DefaultPolicy()
		opts.Default = &p
	}
	if opts.SigDigits == 0 {
		opts.SigDigits = DefaultSigDigits
	}
	if opts.MaxRawPoints == 0 {
		opts.MaxRawPoints = DefaultMaxRawPoints
	}
	if opts.MaxSeries == 0 {
		opts.MaxSeries = DefaultMaxSeries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{opts: opts, log: opts.Logger, now: opts.Now, series: map[string]*series{}}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// policy returns the policy of name.
func (s *Store) policy(name string) Policy {
	if p, ok := s.opts.Fields[name]; ok {
		return p
	}
	return *s.opts.Default
}

// note is a log line to write once s.mu is released.
type note struct {
	level slog.Level
	msg   string
	args  []any
}

// warn queues a warning (s.mu held).
func (s *Store) warn(msg string, args ...any) {
	s.notes = append(s.notes, note{slog.LevelWarn, msg, args})
}

// info queues an INFO line (s.mu held).
func (s *Store) info(msg string, args ...any) {
	s.notes = append(s.notes, note{slog.LevelInfo, msg, args})
}

// unlock releases s.mu, then logs the queued lines.
func (s *Store) unlock() {
	notes := s.notes
	s.notes = nil
	s.mu.Unlock()
	for _, n := range notes {
		s.log.Log(context.Background(), n.level, n.msg, n.args...)
	}
}

// checkCap logs, once per series, that its raw tier reached the cap (s.mu
// held).
func (s *Store) checkCap(se *series) {
	if se.capped && !se.capLogged {
		se.capLogged = true
		s.warn("history: raw point cap reached; the oldest raw points are dropped (the rollups keep them)",
			"series", se.name, "max_points", s.opts.MaxRawPoints)
	}
}

// get returns (creating) the series called name, or nil when it is
// disabled or the store is full. A new series starts unpinned (the caller
// pins it). At the cap, claim (the series is configured) evicts a spare
// series to make room. s.mu is held.
func (s *Store) get(name string, claim bool) *series {
	if se, ok := s.series[name]; ok {
		return se
	}
	p := s.policy(name)
	if p.Disabled || (p.Raw <= 0 && p.Minute <= 0 && p.Quarter <= 0) {
		return nil
	}
	if name == "" || len(name) > maxNameLen ||
		(len(s.series) >= s.opts.MaxSeries && !(claim && s.evict(name))) {
		s.refused++
		s.logRefused(name)
		return nil
	}
	se := newSeries(name, p, s.opts.SigDigits, s.opts.MaxRawPoints)
	s.series[name] = se
	s.spare++
	return se
}

// configured reports whether the config names name (Options.Fields): such
// a series may evict a spare one when it is first recorded.
func (s *Store) configured(name string) bool {
	_, ok := s.opts.Fields[name]
	return ok
}

// pin marks se as configured or recorded in this process: it is never
// evicted (s.mu held).
func (s *Store) pin(se *series) {
	if !se.pinned {
		se.pinned = true
		s.spare--
	}
}

// evict makes room for the configured series name: it removes the spare
// series (loaded from disk, neither configured nor recorded since Open)
// whose newest point is oldest, queues its segment entries for deletion at
// the next flush and reports whether there was one (s.mu held).
func (s *Store) evict(name string) bool {
	if s.spare <= 0 {
		return false
	}
	var victim *series
	for _, se := range s.series {
		if !se.pinned && (victim == nil || se.last < victim.last || (se.last == victim.last && se.name < victim.name)) {
			victim = se
		}
	}
	if victim == nil {
		return false
	}
	delete(s.series, victim.name)
	s.spare--
	s.evicted++
	s.purge = append(s.purge, victim.name)
	last := "none"
	if victim.last > 0 {
		last = time.UnixMilli(victim.last).UTC().Format(time.RFC3339)
	}
	s.info("history: store full; evicted a series the config no longer has (its history is deleted) to keep a configured one",
		"evicted", victim.name, "newest_point", last, "for", name, "max_series", s.opts.MaxSeries)
	return true
}

// logRefused logs a refused series, once per name, for the first
// maxRefusedLogged names (s.mu held).
func (s *Store) logRefused(name string) {
	if s.refusedNames[name] || s.refusedMuted {
		return
	}
	if s.refusedNames == nil {
		s.refusedNames = map[string]bool{}
	}
	if len(s.refusedNames) >= maxRefusedLogged {
		s.refusedMuted = true
		s.warn("history: more series refused; not logging their names", "max_series", s.opts.MaxSeries)
		return
	}
	s.refusedNames[name] = true
	if len(name) > maxNameLen {
		name = name[:maxNameLen] + "…"
	}
	s.warn("history: series refused: the store keeps at most max_series series (or the name is empty or too long)",
		"series", name, "max_series", s.opts.MaxSeries)
}

// Add records a reading of name at t. NaN and infinities, points not newer
// than the series' last point, and disabled series are ignored (false).
func (s *Store) Add(name string, t time.Time, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	s.mu.Lock()
	defer s.unlock()
	se := s.get(name, s.configured(name))
	if se == nil {
		return false
	}
	s.pin(se)
	ok := se.add(msOf(t), v)
	s.checkCap(se)
	return ok
}

// Enabled reports whether name would be recorded.
func (s *Store) Enabled(name string) bool {
	p := s.policy(name)
	return !p.Disabled && (p.Raw > 0 || p.Minute > 0 || p.Quarter > 0)
}

// Run flushes every FlushInterval until ctx is done, then flushes once
// more and returns nil.
func (s *Store) Run(ctx context.Context) error {
	tk := time.NewTicker(s.opts.FlushInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := s.Flush(); err != nil {
				s.log.Error("history: final flush failed", "err", err)
			}
			return nil
		case <-tk.C:
			if err := s.Flush(); err != nil {
				s.log.Warn("history: flush failed; will retry", "err", err)
			}
		}
	}
}

// Flush finishes due rollup buckets, applies retention and writes every
// unflushed point in one burst (one record per tier file).
func (s *Store) Flush() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	now := s.now()
	nowMs := msOf(now)
	var burst [tiers][]entry
	s.mu.Lock()
	names := make([]string, 0, len(s.series))
	for n := range s.series {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		se := s.series[n]
		se.tick(nowMs)
		for i, t := range se.tiers {
			if t == nil {
				continue
			}
			if b := t.seal(); b.n > 0 {
				burst[i] = append(burst[i], entry{name: n, data: b.data})
			}
		}
		se.expire(nowMs)
		s.checkCap(se)
	}
	purge := s.purge
	s.purge = nil
	s.unlock()
	// Before this burst is written: the files never hold more than
	// MaxSeries series, and a series evicted and then configured again
	// keeps what it records from now on.
	if len(purge) > 0 {
		s.purgeSeries(purge)
	}
	if s.opts.Dir == "" {
		return nil
	}
	var errs []error
	for i := range tiers {
		rec := s.retry[i]
		if len(burst[i]) > 0 {
			rec = appendRecord(rec, burst[i])
		}
		if len(rec) == 0 {
			continue
		}
		if err := s.write(i, now, rec); err != nil {
			errs = append(errs, err)
			if len(rec) > maxRecord {
				rec = nil // give up rather than grow without bound
			}
			s.retry[i] = rec
			s.stats.errors.Add(1)
			s.mu.Lock()
			s.stats.lastErr = err.Error()
			s.mu.Unlock()
			continue
		}
		s.retry[i] = nil
	}
	s.prune(now)
	return errors.Join(errs...)
}

// write appends rec to tier i's file for now and syncs it.
func (s *Store) write(i int, now time.Time, rec []byte) error {
	path := filepath.Join(s.opts.Dir, segName(i, now))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() == 0 {
		rec = append([]byte(segMagic), rec...)
		defer syncDir(s.opts.Dir)
	}
	if err == nil {
		half := len(rec) / 2
		if s.midWrite != nil && half > 0 {
			_, err = f.Write(rec[:half])
			if err == nil {
				s.midWrite()
				_, err = f.Write(rec[half:])
			}
		} else {
			_, err = f.Write(rec)
		}
	}
	if err == nil && !s.opts.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("history: write %s: %w", path, err)
	}
	s.stats.bytes.Add(uint64(len(rec)))
	s.stats.bursts.Add(1)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// segName is the file tier i appends to at t: raw per UTC hour, one-minute
// rollups per UTC day, fifteen-minute rollups per UTC month.
func segName(i int, t time.Time) string {
	t = t.UTC()
	switch i {
	case 1:
		return "1m-" + t.Format("20060102") + ".seg"
	case 2:
		return "15m-" + t.Format("200601") + ".seg"
	}
	return "raw-" + t.Format("2006010215") + ".seg"
}

// parseSegName returns a segment file's tier and the end of its period.
func parseSegName(name string) (tier int, end time.Time, ok bool) {
	base, found := strings.CutSuffix(name, ".seg")
	if !found {
		return 0, time.Time{}, false
	}
	prefix, stamp, found := strings.Cut(base, "-")
	if !found {
		return 0, time.Time{}, false
	}
	var layout string
	var step func(time.Time) time.Time
	switch prefix {
	case "raw":
		tier, layout, step = 0, "2006010215", func(t time.Time) time.Time { return t.Add(time.Hour) }
	case "1m":
		tier, layout, step = 1, "20060102", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	case "15m":
		tier, layout, step = 2, "200601", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	default:
		return 0, time.Time{}, false
	}
	start, err := time.ParseInLocation(layout, stamp, time.UTC)
	if err != nil || len(stamp) != len(layout) {
		return 0, time.Time{}, false
	}
	return tier, step(start), true
}

// retention is the longest any series keeps tier i.
func (s *Store) retention(i int) time.Duration {
	d := s.opts.Default.keep(i)
	for _, p := range s.opts.Fields {
		d = max(d, p.keep(i))
	}
	return d
}

// prune deletes segment files whose whole period is older than the longest
// retention of their tier.
func (s *Store) prune(now time.Time) {
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		i, end, ok := parseSegName(e.Name())
		if !ok || !end.Before(now.Add(-s.retention(i))) {
			continue
		}
		if err := os.Remove(filepath.Join(s.opts.Dir, e.Name())); err != nil {
			s.log.Warn("history: cannot remove expired segment", "file", e.Name(), "err", err)
		}
	}
}

// load reads every segment file in Dir.
func (s *Store) load() error {
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	now := s.now()
	nowMs := msOf(now)
	s.mu.Lock()
	defer s.unlock()
	for _, e := range ents { // ReadDir sorts by name: oldest period first per tier
		if isRewriteLeftover(e.Name()) && !e.IsDir() {
			// A rewrite (purgeSeries) cut short: the segment itself is intact.
			_ = os.Remove(filepath.Join(s.opts.Dir, e.Name()))
			continue
		}
		i, end, ok := parseSegName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		if end.Before(now.Add(-s.retention(i))) {
			continue
		}
		path := filepath.Join(s.opts.Dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			s.log.Warn("history: cannot read segment", "file", e.Name(), "err", err)
			continue
		}
		good, rerr := readSegment(data, func(name string, b block) {
			// A series with nothing left to keep is not made (nor
			// counted toward MaxSeries).
			if keep := s.policy(name).keep(i); keep <= 0 || b.last < nowMs-keep.Milliseconds() {
				return
			}
			se := s.get(name, false)
			if se == nil || se.tiers[i] == nil {
				return
			}
			if s.configured(name) {
				s.pin(se)
			}
			se.tiers[i].appendBlock(b)
		})
		switch {
		case errors.Is(rerr, errTorn):
			s.log.Warn("history: skipped a torn tail (power cut during a flush?)", "file", e.Name(), "kept_bytes", good, "skipped_bytes", len(data)-good)
			if err := os.Truncate(path, int64(good)); err != nil {
				s.log.Warn("history: cannot truncate torn tail", "file", e.Name(), "err", err)
			}
		case rerr != nil:
			// Set it aside so the next flush starts a fresh segment.
			aside := path + ".bad"
			s.log.Warn("history: moving aside a file that is not a history segment", "file", e.Name(), "to", filepath.Base(aside), "err", rerr)
			if err := os.Rename(path, aside); err != nil {
				s.log.Warn("history: cannot move aside", "file", e.Name(), "err", err)
			}
		}
	}
	for _, se := range s.series {
		s.rebuild(se, nowMs)
		// The files are bounded by time, not by count: apply the raw
		// point cap (and retention) now, not at the first flush.
		se.expire(nowMs)
		s.checkCap(se)
	}
	return nil
}

// rebuild sets a loaded series' last point and refills its open rollup
// buckets from the raw points after its last finished bucket.
func (s *Store) rebuild(se *series, nowMs int64) {
	for i, t := range se.tiers {
		if t != nil && !t.empty() {
			last := t.lastTime()
			if i > 0 {
				last += width(i) - 1
			}
			se.last = max(se.last, last)
		}
	}
	raw := se.tiers[0]
	if raw == nil {
		return
	}
	from := int64(math.MaxInt64)
	for i := 1; i < tiers; i++ {
		if t := se.tiers[i]; t != nil {
			if t.empty() {
				from = math.MinInt64
			} else {
				from = min(from, t.lastTime()+width(i))
			}
		}
	}
	if from == math.MaxInt64 {
		return
	}
	se.last = max(se.last, raw.lastTime())
	raw.view(from).each(from, math.MaxInt64, func(ts int64, vals []float64) {
		for i := 1; i < tiers; i++ {
			t := se.tiers[i]
			if t == nil || (!t.empty() && ts < t.lastTime()+width(i)) {
				continue
			}
			start := ts - mod(ts, width(i))
			a := &se.aggs[i]
			if a.n > 0 && a.start != start {
				se.finish(i)
			}
			if a.n == 0 {
				a.start = start
			}
			a.add(vals[0])
		}
	})
	se.tick(nowMs)
}

// Close writes what is unflushed (the clean-shutdown burst). The Store
// stays usable; Run's final flush does the same.
func (s *Store) Close() error { return s.Flush() }

// maxRefusedLogged bounds how many refused series names are logged.
const maxRefusedLogged = 64

package history

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshbox/meshbox/internal/atomicfile"
)

// tmpSuffix ends the temporary file of a segment being rewritten by
// purgeSeries (internal/atomicfile names it ".NAME.*.tmp"; load removes a
// leftover one: the rename never happened, the segment is intact).
const tmpSuffix = ".tmp"

// isRewriteLeftover reports whether name is such a temporary file.
func isRewriteLeftover(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".seg.") && strings.HasSuffix(name, tmpSuffix)
}

// purgeSeries deletes the evicted series names from disk: every segment
// file holding an entry of theirs is rewritten without it (atomically,
// internal/atomicfile), one left with no record is
// removed, and the bursts awaiting a retry lose their entries too. It runs
// in Flush (s.flushMu held, so nothing appends meanwhile; s.mu not held).
func (s *Store) purgeSeries(names []string) {
	drop := make(map[string]bool, len(names))
	for _, n := range names {
		drop[n] = true
	}
	for i, rec := range s.retry {
		if out, changed := filterRecords(nil, rec, drop); changed {
			if len(out) == 0 {
				out = nil
			}
			s.retry[i] = out
		}
	}
	if s.opts.Dir == "" {
		return
	}
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		s.log.Warn("history: cannot delete evicted series", "series", names, "err", err)
		return
	}
	var rewritten, removed int
	for _, e := range ents {
		if _, _, ok := parseSegName(e.Name()); !ok || e.IsDir() {
			continue
		}
		path := filepath.Join(s.opts.Dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			s.log.Warn("history: cannot read segment to delete evicted series", "file", e.Name(), "err", err)
			continue
		}
		out, changed, err := dropSeries(data, drop)
		if err != nil || !changed {
			continue // not a segment (load set it aside), or none of theirs
		}
		if len(out) == len(segMagic) {
			if err := os.Remove(path); err != nil {
				s.log.Warn("history: cannot remove segment of evicted series", "file", e.Name(), "err", err)
				continue
			}
			removed++
			continue
		}
		if err := atomicfile.WriteFile(path, out, 0o600); err != nil {
			s.log.Warn("history: cannot rewrite segment without evicted series", "file", e.Name(), "err", err)
			continue
		}
		s.stats.bytes.Add(uint64(len(out)))
		rewritten++
	}
	if removed > 0 {
		syncDir(s.opts.Dir)
	}
	s.log.Debug("history: evicted series deleted from disk", "series", names, "rewritten_files", rewritten, "removed_files", removed)
}

// dropSeries returns a segment file's bytes without the entries of the
// series in drop, and whether any were there.
func dropSeries(data []byte, drop map[string]bool) ([]byte, bool, error) {
	if len(data) < len(segMagic) || string(data[:len(segMagic)]) != segMagic {
		return nil, false, fmt.Errorf("history: not a history segment")
	}
	out, changed := filterRecords([]byte(segMagic), data[len(segMagic):], drop)
	return out, changed, nil
}

// filterRecords appends recs (a sequence of records) to dst without the
// entries of the series in drop: a record holding none of them is copied as
// it is, one holding only theirs is left out, the others are framed anew.
// A torn or corrupt tail is copied as it is (load deals with it).
func filterRecords(dst, recs []byte, drop map[string]bool) ([]byte, bool) {
	tab := crcTable()
	changed := false
	off := 0
	for off < len(recs) {
		rest := recs[off:]
		if len(rest) < recHeader {
			break
		}
		n := binary.LittleEndian.Uint32(rest)
		if n == 0 || n > maxRecord || uint64(n) > uint64(len(rest)-recHeader) {
			break
		}
		payload := rest[recHeader : recHeader+int(n)]
		if crc32.Checksum(payload, tab) != binary.LittleEndian.Uint32(rest[4:]) {
			break
		}
		entries, err := parsePayload(payload)
		if err != nil {
			break
		}
		kept := entries[:0]
		for _, e := range entries {
			if !drop[e.name] {
				kept = append(kept, e)
			}
		}
		switch {
		case len(kept) == len(entries):
			dst = append(dst, rest[:recHeader+int(n)]...)
		case len(kept) > 0:
			dst = appendRecord(dst, kept)
			changed = true
		default:
			changed = true
		}
		off += recHeader + int(n)
	}
	return append(dst, recs[off:]...), changed
}

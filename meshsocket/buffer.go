package meshsocket

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/meshbox/meshbox/internal/wire"
)

// offlineBuffer holds encoded frames sent while the client was not
// admitted: a bounded RAM queue and an optional spill file. It is not
// locked itself: the Client guards it with sendMu.
//
// Invariant: every frame in the file is older than every frame in RAM, so
// replay sends the file first, then RAM.
//
// Crash windows:
//   - spill: frames leave RAM only after they were appended and fsynced. A
//     crash before the fsync loses only frames that were still RAM-only
//     (never durable); a torn last line is dropped by replay and the next
//     append starts on a fresh line.
//   - replay: the file is trimmed only after its frames were written to the
//     relay, so a crash in between re-sends them (at least once, same ids).
//   - rewrites (trim, requeue) go through a temp file, fsync and rename.
type offlineBuffer struct {
	max  int    // RAM bound
	path string // spill file, "" for none
	// syncFile makes a write durable (f.Sync); tests replace it to inject
	// a crash between RAM and disk.
	syncFile func(f *os.File) error

	ram     [][]byte
	dropped uint64 // frames dropped because RAM was full and there was no file
}

func newOfflineBuffer(max int, path string) *offlineBuffer {
	return &offlineBuffer{max: max, path: path, syncFile: (*os.File).Sync}
}

// enabled reports whether offline frames are kept at all.
func (b *offlineBuffer) enabled() bool { return b.max > 0 || b.path != "" }

// push queues one encoded frame. It fails only when the frame cannot be
// kept (spill error); then nothing was dropped from RAM.
func (b *offlineBuffer) push(msg []byte) error {
	if len(b.ram) < b.max {
		b.ram = append(b.ram, msg)
		return nil
	}
	if b.path == "" {
		if b.max == 0 {
			return ErrNotConnected
		}
		b.ram[0] = nil
		b.ram = append(b.ram[1:], msg)
		b.dropped++
		return nil
	}
	lines := make([][]byte, 0, len(b.ram)+1)
	lines = append(lines, b.ram...)
	lines = append(lines, msg)
	if err := b.appendFile(lines); err != nil {
		return err
	}
	clear(b.ram)
	b.ram = b.ram[:0]
	return nil
}

// spillAll moves the RAM queue to the file (used by Close).
func (b *offlineBuffer) spillAll() error {
	if b.path == "" || len(b.ram) == 0 {
		return nil
	}
	if err := b.appendFile(b.ram); err != nil {
		return err
	}
	clear(b.ram)
	b.ram = b.ram[:0]
	return nil
}

// requeueFront puts frames that could not be replayed back in front of
// everything queued since.
func (b *offlineBuffer) requeueFront(frames [][]byte) error {
	if len(frames) == 0 {
		return nil
	}
	if b.path != "" {
		if data, err := b.readFile(); err == nil && len(data) > 0 {
			return b.rewriteFile(joinLines(frames), data)
		}
	}
	b.ram = append(append(make([][]byte, 0, len(frames)+len(b.ram)), frames...), b.ram...)
	if len(b.ram) <= b.max {
		return nil
	}
	if b.path != "" {
		return b.spillAll()
	}
	n := len(b.ram) - b.max
	b.dropped += uint64(n)
	b.ram = append([][]byte(nil), b.ram[n:]...)
	return nil
}

func joinLines(lines [][]byte) []byte {
	var buf bytes.Buffer
	for _, l := range lines {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// appendFile appends lines durably (write + fsync) or not at all (the file
// is truncated back on error).
func (b *offlineBuffer) appendFile(lines [][]byte) error {
	f, err := os.OpenFile(b.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("offline file: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("offline file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("offline file: %w", err)
	}
	size := st.Size()
	var buf []byte
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err == nil && last[0] != '\n' {
			buf = append(buf, '\n') // torn line from a crash: start afresh
		}
	}
	buf = append(buf, joinLines(lines)...)
	if _, err := f.Write(buf); err != nil {
		_ = f.Truncate(size)
		return fmt.Errorf("offline file: %w", err)
	}
	if err := b.syncFile(f); err != nil {
		_ = f.Truncate(size)
		return fmt.Errorf("offline file: sync: %w", err)
	}
	return nil
}

func (b *offlineBuffer) readFile() ([]byte, error) {
	data, err := os.ReadFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// rewriteFile atomically replaces the file with head+tail (removes it when
// both are empty).
func (b *offlineBuffer) rewriteFile(head, tail []byte) error {
	if len(head) == 0 && len(bytes.TrimSpace(tail)) == 0 {
		if err := os.Remove(b.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("offline file: %w", err)
		}
		return nil
	}
	dir := filepath.Dir(b.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(b.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("offline file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("offline file: %w", err)
	}
	if _, err := tmp.Write(append(append([]byte(nil), head...), tail...)); err != nil {
		return fmt.Errorf("offline file: %w", err)
	}
	if err := b.syncFile(tmp); err != nil {
		return fmt.Errorf("offline file: sync: %w", err)
	}
	if err := os.Rename(tmp.Name(), b.path); err != nil {
		return fmt.Errorf("offline file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// spilled is one valid line of the spill file.
type spilled struct {
	frame Frame
	msg   []byte // canonical encoding, what replay sends
}

// parseSpill reads the spill file's bytes: one JSON frame per line. It
// drops empty and junk lines, non-objects, frames without a non-empty
// string id and type, and forged identify/welcome frames.
func parseSpill(data []byte) (frames []spilled, dropped int) {
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		f, err := wire.Decode(line)
		if err != nil || f.ID == "" || f.Type == "" || f.Type == "identify" || f.Type == "welcome" {
			dropped++
			continue
		}
		frames = append(frames, spilled{frame: f, msg: wire.Encode(f)})
	}
	return frames, dropped
}

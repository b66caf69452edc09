package update

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Layout names the files of the update mechanism under a state directory.
type Layout struct {
	StateDir string // e.g. /var/lib/meshbox
}

// BinDir holds the installed update and its rollback copy.
func (l Layout) BinDir() string { return filepath.Join(l.StateDir, "bin") }

// Current is the installed update, run instead of the factory binary.
func (l Layout) Current() string { return filepath.Join(l.BinDir(), "meshbox") }

// Prev is the rollback copy of the update before Current.
func (l Layout) Prev() string { return filepath.Join(l.BinDir(), "meshbox.prev") }

// Incoming is where a new binary is written and verified.
func (l Layout) Incoming() string { return filepath.Join(l.BinDir(), "meshbox.new") }

// PendingFile marks an installed update that has not confirmed its health.
func (l Layout) PendingFile() string { return filepath.Join(l.StateDir, "update-pending.json") }

// RollbackFile records the last rollback.
func (l Layout) RollbackFile() string { return filepath.Join(l.StateDir, "update-rollback.json") }

func (l Layout) lockFile() string { return filepath.Join(l.BinDir(), ".lock") }

// Pending is the content of PendingFile.
type Pending struct {
	Version     string    `json:"version"`
	SHA256      string    `json:"sha256"`
	FromVersion string    `json:"from_version,omitempty"`
	HasPrev     bool      `json:"has_prev"` // false: rolling back means the factory binary
	Attempts    int       `json:"attempts"` // starts of the new binary so far
	InstalledAt time.Time `json:"installed_at"`
}

// Rollback is the content of RollbackFile.
type Rollback struct {
	Version string    `json:"version"` // the update that was rolled back
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// readJSON decodes path into v; a missing file returns os.ErrNotExist.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSONIn replaces name in dir atomically: a fresh temporary file
// (O_EXCL|O_NOFOLLOW, never through a link), given to uid:gid when running
// as root (-1: keep), fsynced and renamed over name.
func writeJSONIn(dir *os.Root, name string, v any, uid, gid int) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := dir.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o640)
	if err != nil {
		return err
	}
	if os.Geteuid() == 0 && uid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := dir.Rename(tmp, name); err != nil {
		return err
	}
	return syncRoot(dir)
}

// syncRoot makes renames in dir durable.
func syncRoot(dir *os.Root) error {
	d, err := dir.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync %s: %w", dir.Name(), err)
	}
	return nil
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

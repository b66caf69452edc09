package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// ExitCodeRestart is the exit code meshbox uses after installing an update:
// non-zero, so systemd's Restart=on-failure starts the new binary.
const ExitCodeRestart = 3

// Errors callers tell apart.
var (
	// ErrRestart is returned (wrapped) by the serving process after an
	// update is installed; main maps it to ExitCodeRestart.
	ErrRestart = errors.New("update installed: restarting")
	// ErrBusy: another install is running.
	ErrBusy = errors.New("another update is being installed")
	// ErrVerify: the new binary failed a check (checksum, size, "version").
	ErrVerify = errors.New("new binary rejected")
	// ErrUnhealthy: the freshly updated process did not pass its health check.
	ErrUnhealthy = errors.New("updated meshbox is not healthy")
	// ErrTooLarge: the download exceeds MaxBytes.
	ErrTooLarge = errors.New("new binary too large")
)

// Defaults for the Updater knobs.
const (
	DefaultMaxBytes      = 128 << 20
	DefaultVerifyTimeout = 15 * time.Second
	DefaultMaxAttempts   = 1
)

// Updater installs, boots and confirms updates in one Layout.
type Updater struct {
	Layout Layout
	Logger *slog.Logger
	// Version is the running binary's version (for messages and records).
	Version string
	// KeyFile is the update public key (DefaultKeyFile on a box; "" =
	// none). When the file exists, only binaries signed with its private
	// key are installed; when it exists but cannot be read or parsed, no
	// update is installed at all.
	KeyFile string
	// MaxBytes caps a new binary (DefaultMaxBytes when 0).
	MaxBytes int64
	// VerifyTimeout bounds "NEW version" (DefaultVerifyTimeout when 0).
	VerifyTimeout time.Duration
	// MaxAttempts is how many starts a pending update gets before Boot
	// rolls it back (DefaultMaxAttempts when 0).
	MaxAttempts int
	// Now returns the time (time.Now when nil).
	Now func() time.Time
	// GOARCH is the architecture a new binary must be built for
	// (runtime.GOARCH when ""; tests under qemu-user set the host's).
	GOARCH string

	// afterVerify, when set, runs between the checks and the version probe
	// (tests: an attacker swapping files at the worst moment).
	afterVerify func()
}

func (u *Updater) logger() *slog.Logger {
	if u.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return u.Logger
}

func (u *Updater) now() time.Time {
	if u.Now == nil {
		return time.Now()
	}
	return u.Now()
}

func (u *Updater) maxBytes() int64 {
	if u.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return u.MaxBytes
}

func (u *Updater) maxAttempts() int {
	if u.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return u.MaxAttempts
}

// Installed describes a successful install.
type Installed struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	Signed  bool   `json:"signed"` // the signature was checked against the box's key
}

// Check is what a new binary is checked against besides its ELF header.
type Check struct {
	SHA256    string // hex digest ("" = not checked)
	Signature string // signature line (see sign.go); required when the box has a key
}

// InstallFrom installs the binary at path (a local file).
func (u *Updater) InstallFrom(ctx context.Context, path string, c Check) (Installed, error) {
	f, err := os.Open(path)
	if err != nil {
		return Installed{}, fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	return u.Install(ctx, f, c)
}

// Install reads a new binary from r, verifies it and makes it the one
// Boot runs from now on, marking it pending until Confirm. The caller then
// restarts (exit ExitCodeRestart under systemd).
//
// Order: the bytes are staged (O_EXCL|O_NOFOLLOW in a directory only the
// service writes), reopened read-only, hashed from that descriptor and
// checked (checksum, ELF, architecture, signature); only then is the
// staged file run ("version", through the same descriptor), and finally
// renamed into place and compared with the descriptor (same inode).
func (u *Updater) Install(ctx context.Context, r io.Reader, c Check) (Installed, error) {
	c.SHA256 = strings.ToLower(strings.TrimSpace(c.SHA256))
	if c.SHA256 != "" && !reSHA.MatchString(c.SHA256) {
		return Installed{}, fmt.Errorf("update: %w: sha256 %q is not 64 hex digits", ErrVerify, c.SHA256)
	}
	c.Signature = strings.TrimSpace(c.Signature)
	pub, err := u.trustedKey() // fail before receiving anything
	if err != nil {
		return Installed{}, err
	}
	d, err := openDirs(u.Layout)
	if err != nil {
		return Installed{}, err
	}
	defer d.Close()
	unlock, err := lock(d)
	if err != nil {
		return Installed{}, err
	}
	defer unlock()

	s, err := u.stage(ctx, d, r)
	if err != nil {
		_ = d.bin.Remove("meshbox.new")
		return Installed{}, err
	}
	defer s.Close()
	fail := func(err error) (Installed, error) {
		if sameFile(d.bin, "meshbox.new", s.f) {
			_ = d.bin.Remove("meshbox.new")
		}
		return Installed{}, err
	}
	if err := u.verify(s, c); err != nil {
		return fail(err)
	}
	if u.afterVerify != nil {
		u.afterVerify()
	}
	ver, err := u.probeVersion(ctx, s, d)
	if err != nil {
		return fail(err)
	}
	if err := u.commit(d, s, ver); err != nil {
		return fail(err)
	}
	u.logger().Info("update installed", "version", ver, "from", u.Version, "sha256", s.sha256, "bytes", s.size, "signed", pub != nil)
	return Installed{Version: ver, SHA256: s.sha256, Path: u.Layout.Current(), Size: s.size, Signed: pub != nil}, nil
}

var reSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ctxReader stops a long copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

var reVersion = regexp.MustCompile(`^meshbox (\S+)\s*$`)

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// commit: current -> prev (hard link), pending marker, new -> current,
// then the new current must be the very inode that was verified.
func (u *Updater) commit(d *dirs, s *staged, ver string) error {
	hasPrev := false
	if _, err := d.bin.Lstat("meshbox"); err == nil {
		if err := d.bin.Remove("meshbox.prev"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("update: %w", err)
		}
		if err := d.bin.Link("meshbox", "meshbox.prev"); err != nil {
			return fmt.Errorf("update: keep previous binary: %w", err)
		}
		hasPrev = true
	} else if err := d.bin.Remove("meshbox.prev"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("update: %w", err)
	}
	if os.Geteuid() == 0 && d.uid >= 0 {
		// The service replaces (and hard-links) it at its next update.
		if err := s.f.Chown(d.uid, d.gid); err != nil {
			return fmt.Errorf("update: %w", err)
		}
	}
	p := Pending{Version: ver, SHA256: s.sha256, FromVersion: u.Version, HasPrev: hasPrev, InstalledAt: u.now().UTC()}
	if err := writeJSONIn(d.state, "update-pending.json", p, d.uid, d.gid); err != nil {
		return fmt.Errorf("update: mark pending: %w", err)
	}
	if err := d.bin.Rename("meshbox.new", "meshbox"); err != nil {
		_ = d.state.Remove("update-pending.json")
		return fmt.Errorf("update: install: %w", err)
	}
	if !sameFile(d.bin, "meshbox", s.f) {
		// Someone who can write the bin directory swapped the staged file.
		_, rerr := u.rollbackIn(d, p, "the staged binary was replaced while installing")
		return fmt.Errorf("update: %w: %s was replaced while installing (another process writes %s); rolled back (%v)",
			ErrUnsafeDir, u.Layout.Incoming(), u.Layout.BinDir(), rerr)
	}
	if err := syncRoot(d.bin); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}

// lock takes an exclusive non-blocking flock on bin/.lock.
func lock(d *dirs) (func(), error) {
	f, err := d.bin.OpenFile(".lock", os.O_RDWR|os.O_CREATE|noFollow, 0o640)
	if err != nil {
		return nil, fmt.Errorf("update: lock: %w", err)
	}
	if os.Geteuid() == 0 && d.uid >= 0 {
		if err := f.Chown(d.uid, d.gid); err != nil {
			f.Close()
			return nil, fmt.Errorf("update: %w", err)
		}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("update: lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

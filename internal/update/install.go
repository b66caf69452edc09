package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
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
	// Client downloads URLs (default: http.Client with no redirects to
	// other schemes; the ctx bounds the time).
	Client *http.Client
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
}

// InstallFrom installs from an http(s) URL or a local file path.
// wantSHA256 ("" = not checked) is the hex digest of the binary.
func (u *Updater) InstallFrom(ctx context.Context, src, wantSHA256 string) (Installed, error) {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		body, err := u.open(ctx, src)
		if err != nil {
			return Installed{}, err
		}
		defer body.Close()
		return u.Install(ctx, body, wantSHA256)
	}
	f, err := os.Open(src)
	if err != nil {
		return Installed{}, fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	return u.Install(ctx, f, wantSHA256)
}

func (u *Updater) open(ctx context.Context, raw string) (io.ReadCloser, error) {
	if _, err := url.Parse(raw); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	c := u.Client
	if c == nil {
		c = &http.Client{}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("update: download: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("update: download %s: %s", raw, resp.Status)
	}
	if resp.ContentLength > u.maxBytes() {
		resp.Body.Close()
		return nil, fmt.Errorf("update: %w: %d bytes (limit %d)", ErrTooLarge, resp.ContentLength, u.maxBytes())
	}
	return resp.Body, nil
}

// Install reads a new binary from r, verifies it and makes it the one
// Boot runs from now on, marking it pending until Confirm. The caller then
// restarts (exit ExitCodeRestart under systemd).
func (u *Updater) Install(ctx context.Context, r io.Reader, wantSHA256 string) (Installed, error) {
	wantSHA256 = strings.ToLower(strings.TrimSpace(wantSHA256))
	if wantSHA256 != "" && !reSHA.MatchString(wantSHA256) {
		return Installed{}, fmt.Errorf("update: %w: sha256 %q is not 64 hex digits", ErrVerify, wantSHA256)
	}
	l := u.Layout
	if err := ensureBinDir(l); err != nil {
		return Installed{}, err
	}
	unlock, err := lock(l, l.lockFile())
	if err != nil {
		return Installed{}, err
	}
	defer unlock()

	inc := l.Incoming()
	size, sum, err := u.receive(ctx, r, inc)
	if err == nil {
		err = own(l, inc)
	}
	if err != nil {
		os.Remove(inc)
		return Installed{}, err
	}
	if wantSHA256 != "" && sum != wantSHA256 {
		os.Remove(inc)
		return Installed{}, fmt.Errorf("update: %w: sha256 %s, want %s", ErrVerify, sum, wantSHA256)
	}
	ver, err := u.probeVersion(ctx, inc)
	if err != nil {
		os.Remove(inc)
		return Installed{}, err
	}
	if err := u.commit(inc, ver, sum); err != nil {
		os.Remove(inc)
		return Installed{}, err
	}
	u.logger().Info("update installed", "version", ver, "from", u.Version, "sha256", sum, "bytes", size)
	return Installed{Version: ver, SHA256: sum, Path: l.Current(), Size: size}, nil
}

var reSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)

// receive writes r to path (0755), fsynced, returning size and sha256.
func (u *Updater) receive(ctx context.Context, r io.Reader, path string) (int64, string, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return 0, "", fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	limit := u.maxBytes()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(ctxReader{ctx, r}, limit+1))
	if err != nil {
		return 0, "", fmt.Errorf("update: receive: %w", err)
	}
	if n > limit {
		return 0, "", fmt.Errorf("update: %w: more than %d bytes", ErrTooLarge, limit)
	}
	if n == 0 {
		return 0, "", fmt.Errorf("update: %w: empty file", ErrVerify)
	}
	if err := f.Sync(); err != nil {
		return 0, "", fmt.Errorf("update: fsync: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, "", fmt.Errorf("update: %w", err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

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

// probeVersion runs "BIN version": the new binary must start on this
// machine (right architecture, not truncated) and say "meshbox VERSION".
func (u *Updater) probeVersion(ctx context.Context, bin string) (string, error) {
	arch := u.GOARCH
	if arch == "" {
		arch = runtime.GOARCH
	}
	if err := checkELF(bin, arch); err != nil {
		return "", err
	}
	to := u.VerifyTimeout
	if to <= 0 {
		to = DefaultVerifyTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "version")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("update: %w: \"version\" did not answer within %s", ErrVerify, to)
		}
		return "", fmt.Errorf("update: %w: \"version\" failed: %v: %s", ErrVerify, err, firstLine(out.String()))
	}
	m := reVersion.FindStringSubmatch(out.String())
	if m == nil {
		return "", fmt.Errorf("update: %w: \"version\" printed %q, not \"meshbox VERSION\"", ErrVerify, firstLine(out.String()))
	}
	return m[1], nil
}

// elfMachine maps GOARCH to the ELF machine a binary for it has.
func elfMachine(goarch string) (elf.Machine, bool) {
	switch goarch {
	case "amd64":
		return elf.EM_X86_64, true
	case "386":
		return elf.EM_386, true
	case "arm":
		return elf.EM_ARM, true
	case "arm64":
		return elf.EM_AARCH64, true
	case "riscv64":
		return elf.EM_RISCV, true
	}
	return 0, false
}

// checkELF refuses anything but an executable compiled for goarch: a
// script that prints "meshbox X" must not replace the box's binary.
func checkELF(bin, goarch string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("update: %w: not a compiled Linux program (no ELF header): a script or another file cannot replace meshbox", ErrVerify)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("update: %w: ELF file of type %s is not an executable", ErrVerify, f.Type)
	}
	if want, ok := elfMachine(goarch); ok && f.Machine != want {
		return fmt.Errorf("update: %w: built for %s, this machine needs %s", ErrVerify, f.Machine, want)
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// commit: current -> prev (hard link), pending marker, new -> current.
func (u *Updater) commit(inc, ver, sum string) error {
	l := u.Layout
	hasPrev := false
	if exists(l.Current()) {
		if err := os.Remove(l.Prev()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("update: %w", err)
		}
		if err := os.Link(l.Current(), l.Prev()); err != nil {
			return fmt.Errorf("update: keep previous binary: %w", err)
		}
		hasPrev = true
	} else if err := os.Remove(l.Prev()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("update: %w", err)
	}
	p := Pending{Version: ver, SHA256: sum, FromVersion: u.Version, HasPrev: hasPrev, InstalledAt: u.now().UTC()}
	if err := u.writeRecord(l.PendingFile(), p); err != nil {
		return fmt.Errorf("update: mark pending: %w", err)
	}
	if err := os.Rename(inc, l.Current()); err != nil {
		os.Remove(l.PendingFile())
		return fmt.Errorf("update: install: %w", err)
	}
	if err := syncDir(l.BinDir()); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}

// ensureBinDir creates the bin directory, owned like the state directory
// (so an install by root leaves files the service can replace later).
func ensureBinDir(l Layout) error {
	st, err := os.Stat(l.StateDir)
	if err != nil {
		return fmt.Errorf("update: state directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("update: state directory %s is not a directory", l.StateDir)
	}
	if err := os.Mkdir(l.BinDir(), 0o750); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("update: %w", err)
	}
	return own(l, l.BinDir())
}

// own gives path to the state directory's owner when running as root, so
// the service (user meshbox) can later replace what root installed.
func own(l Layout, path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(l.StateDir)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := os.Lchown(path, int(sys.Uid), int(sys.Gid)); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}

// lock takes an exclusive non-blocking flock on path.
func lock(l Layout, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("update: lock: %w", err)
	}
	if err := own(l, path); err != nil {
		f.Close()
		return nil, err
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

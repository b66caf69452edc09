package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// noFollow refuses a symbolic link as the last component of a path.
const noFollow = syscall.O_NOFOLLOW

// ErrUnsafeDir: the state or bin directory can be written by someone other
// than the service (or is a symbolic link): nothing is staged there.
var ErrUnsafeDir = errors.New("unsafe update directory")

// dirs are the state and bin directories, opened once per install: every
// file operation goes through these descriptors, never through a path a
// writer of the directory could swap for a symbolic link.
type dirs struct {
	state, bin *os.Root
	uid, gid   int // the service: owner of the state directory
}

func (d *dirs) Close() {
	if d.bin != nil {
		d.bin.Close()
	}
	if d.state != nil {
		d.state.Close()
	}
}

// openDirs opens the state directory and its bin directory (created 0750
// when missing) and checks both: a real directory (bin not a symbolic
// link), owned by the service (the state directory's owner) or root, not
// writable by group or others.
func openDirs(l Layout) (*dirs, error) {
	st, err := os.Stat(l.StateDir)
	if err != nil {
		return nil, fmt.Errorf("update: state directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("update: state directory %s is not a directory", l.StateDir)
	}
	d := &dirs{uid: -1, gid: -1}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		d.uid, d.gid = int(sys.Uid), int(sys.Gid)
	}
	if d.state, err = os.OpenRoot(l.StateDir); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	if err := d.checkDir(d.state, l.StateDir); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.state.Mkdir("bin", 0o750); err != nil && !errors.Is(err, os.ErrExist) {
		d.Close()
		return nil, fmt.Errorf("update: %w", err)
	}
	lst, err := d.state.Lstat("bin")
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("update: %w", err)
	}
	if !lst.IsDir() {
		d.Close()
		return nil, fmt.Errorf("update: %w: %s is a %s, not a directory", ErrUnsafeDir, l.BinDir(), kind(lst.Mode()))
	}
	if d.bin, err = d.state.OpenRoot("bin"); err != nil {
		d.Close()
		return nil, fmt.Errorf("update: %w", err)
	}
	if os.Geteuid() == 0 && d.uid >= 0 {
		// An install by root leaves the directory to the service.
		if err := d.state.Lchown("bin", d.uid, d.gid); err != nil {
			d.Close()
			return nil, fmt.Errorf("update: %w", err)
		}
	}
	if err := d.checkDir(d.bin, l.BinDir()); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func kind(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	case m.IsRegular():
		return "file"
	}
	return m.Type().String()
}

// checkDir checks the directory r was opened on (through its descriptor).
func (d *dirs) checkDir(r *os.Root, name string) error {
	st, err := r.Stat(".")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("update: %w: %s is writable by group or others (mode %04o): only the meshbox service may write it (chmod go-w %s)",
			ErrUnsafeDir, name, perm, name)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if owner := int(sys.Uid); owner != 0 && owner != os.Geteuid() && owner != d.uid {
		return fmt.Errorf("update: %w: %s belongs to uid %d, not to the service (uid %d)", ErrUnsafeDir, name, owner, d.uid)
	}
	return nil
}

// staged is a received binary, held open read-only: what was checked is
// read from this descriptor, and what runs is exec'd through it.
type staged struct {
	f      *os.File // read-only
	size   int64
	sha256 string
	sha512 []byte
}

func (s *staged) Close() { s.f.Close() }

// stage writes r to bin/meshbox.new, created with O_EXCL|O_NOFOLLOW (a
// leftover file is removed first; a file or link that reappears is
// refused), fsyncs it and reopens it read-only through /proc/self/fd, so
// no writer of the file remains and no path is involved from then on.
func (u *Updater) stage(ctx context.Context, d *dirs, r io.Reader) (*staged, error) {
	name := "meshbox.new"
	if err := d.bin.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("update: remove leftover %s: %w", name, err)
	}
	w, err := d.bin.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|noFollow, 0o755)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("update: %w: %s reappeared while installing: another process writes %s", ErrUnsafeDir, name, u.Layout.BinDir())
		}
		return nil, fmt.Errorf("update: %w", err)
	}
	defer w.Close()
	limit := u.maxBytes()
	n, err := io.Copy(w, io.LimitReader(ctxReader{ctx, r}, limit+1))
	if err != nil {
		return nil, fmt.Errorf("update: receive: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("update: %w: more than %d bytes", ErrTooLarge, limit)
	}
	if n == 0 {
		return nil, fmt.Errorf("update: %w: empty file", ErrVerify)
	}
	if err := w.Chmod(0o755); err != nil { // whatever the umask
		return nil, fmt.Errorf("update: %w", err)
	}
	if err := w.Sync(); err != nil {
		return nil, fmt.Errorf("update: fsync: %w", err)
	}
	ro, err := os.Open("/proc/self/fd/" + strconv.Itoa(int(w.Fd())))
	if err != nil {
		return nil, fmt.Errorf("update: reopen the staged file read-only (needs /proc): %w", err)
	}
	if err := w.Close(); err != nil {
		ro.Close()
		return nil, fmt.Errorf("update: %w", err)
	}
	s := &staged{f: ro}
	if err := s.hash(); err != nil {
		ro.Close()
		return nil, err
	}
	if s.size != n {
		ro.Close()
		return nil, fmt.Errorf("update: %w: staged file has %d bytes, %d were received", ErrVerify, s.size, n)
	}
	return s, nil
}

// hash digests the staged bytes as they are on disk, through the
// read-only descriptor.
func (s *staged) hash() error {
	h256, h512 := sha256.New(), sha512.New()
	n, err := io.Copy(io.MultiWriter(h256, h512), io.NewSectionReader(s.f, 0, 1<<62))
	if err != nil {
		return fmt.Errorf("update: read back: %w", err)
	}
	s.size, s.sha256, s.sha512 = n, hex.EncodeToString(h256.Sum(nil)), h512.Sum(nil)
	return nil
}

// verify runs every check that needs no execution, in order: checksum,
// ELF type and architecture, signature.
func (u *Updater) verify(s *staged, c Check) error {
	if c.SHA256 != "" && s.sha256 != c.SHA256 {
		return fmt.Errorf("update: %w: sha256 %s, want %s", ErrVerify, s.sha256, c.SHA256)
	}
	arch := u.GOARCH
	if arch == "" {
		arch = runtime.GOARCH
	}
	if err := checkELFReader(io.NewSectionReader(s.f, 0, s.size), arch); err != nil {
		return err
	}
	pub, err := u.trustedKey()
	if err != nil {
		return err
	}
	if pub == nil {
		if c.Signature != "" {
			u.logger().Info("update: signature not checked: this box has no update key", "key_file", u.KeyFile)
		}
		return nil
	}
	if c.Signature == "" {
		return fmt.Errorf("update: %w: this box installs only signed binaries (key %s) and none was sent: sign with meshbox sign -key KEY FILE (meshbox update sends FILE.sig)",
			ErrSignature, KeyID(pub))
	}
	sig, err := ParseSignature(c.Signature)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := VerifySignature(pub, sig, s.sha512); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}

// trustedKey loads KeyFile: nil without a KeyFile or when it does not
// exist (unsigned updates accepted); any other failure refuses updates.
func (u *Updater) trustedKey() (ed25519.PublicKey, error) {
	if u.KeyFile == "" {
		return nil, nil
	}
	pub, err := LoadPublicKey(u.KeyFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update: %w: the update key cannot be read, so no update is accepted: %v", ErrSignature, err)
	}
	return pub, nil
}

// probeVersion runs the staged binary's "version" through its read-only
// descriptor (fd 3 of the child, exec'd as /proc/self/fd/3: the bytes
// checked are the bytes run). It runs only after verify passed. When
// installing as root, the probe runs as the service user.
func (u *Updater) probeVersion(ctx context.Context, s *staged, d *dirs) (string, error) {
	to := u.VerifyTimeout
	if to <= 0 {
		to = DefaultVerifyTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/fd/3", "version")
	cmd.Args[0] = "meshbox"
	cmd.ExtraFiles = []*os.File{s.f}
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if os.Geteuid() == 0 && d.uid > 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(d.uid), Gid: uint32(d.gid), Groups: []uint32{}}}
	}
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

// checkELF is checkELFReader on a file.
func checkELF(bin, goarch string) error {
	f, err := os.Open(bin)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	return checkELFReader(f, goarch)
}

// checkELFReader refuses anything but an executable compiled for goarch:
// a script that prints "meshbox X" must not replace the box's binary.
func checkELFReader(r io.ReaderAt, goarch string) error {
	f, err := elf.NewFile(r)
	if err != nil {
		return fmt.Errorf("update: %w: not a compiled Linux program (no ELF header): a script or another file cannot replace meshbox", ErrVerify)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("update: %w: ELF file of type %s is not an executable", ErrVerify, f.Type)
	}
	if want, ok := elfMachine(goarch); ok && f.Machine != want {
		return fmt.Errorf("update: %w: built for %s, this machine needs %s", ErrVerify, f.Machine, want)
	}
	return nil
}

// sameFile reports whether name in r is the staged file's inode.
func sameFile(r *os.Root, name string, f *os.File) bool {
	a, err := r.Lstat(name)
	if err != nil {
		return false
	}
	b, err := f.Stat()
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

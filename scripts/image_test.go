package scripts_test

import (
	"crypto/rand"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// requireTools skips the test when a tool is missing, unless CI=true (CI
// installs them through .ci/run and must run every test).
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (apt-get install mtools dosfstools e2fsprogs fdisk xz-utils bmap-tools)", tool)
			}
			t.Skipf("%s is missing: install mtools dosfstools e2fsprogs fdisk xz-utils to run the image tests", tool)
		}
	}
}

var imageTools = []string{"sfdisk", "mkfs.vfat", "fsck.fat", "mke2fs", "e2fsck", "debugfs", "mtype", "mcopy", "mdir", "xz", "bash"}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// fakeELF is an ELF header for arch (arm64 or armhf) followed by n random
// bytes: enough for flash.sh's architecture checks and a byte-exact copy check.
func fakeELF(t *testing.T, arch string, n int) []byte {
	t.Helper()
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[5], h[6] = 1, 1
	binary.LittleEndian.PutUint16(h[16:], 2) // ET_EXEC
	switch arch {
	case "arm64":
		h[4] = 2
		binary.LittleEndian.PutUint16(h[18:], 0xb7)
	case "armhf":
		h[4] = 1
		binary.LittleEndian.PutUint16(h[18:], 0x28)
	default:
		t.Fatalf("fakeELF: arch %s", arch)
	}
	body := make([]byte, n)
	if _, err := rand.Read(body); err != nil {
		t.Fatal(err)
	}
	return append(h, body...)
}

type imageOpts struct {
	arch      string // userland: arm64 (default) or armhf
	cloudInit bool   // /etc/cloud + user-data on the boot partition
}

// The layout scripts/sample-image.sh writes.
const (
	bootStart = 8192 // sectors, as Raspberry Pi OS
	bootKiB   = 32 * 1024
)

// piImage is a synthetic Raspberry-Pi-OS-like disk image built in dir.
type piImage struct {
	path    string
	bootOff int64
	rootOff int64
}

// buildImage makes a Raspberry-Pi-OS-like image with scripts/sample-image.sh
// (the same image a user can try flash.sh with): an MBR with a FAT boot
// partition (config.txt, cmdline.txt) and an ext4 root with the files
// flash.sh edits.
func buildImage(t *testing.T, dir string, o imageOpts) piImage {
	t.Helper()
	if o.arch == "" {
		o.arch = "arm64"
	}
	img := filepath.Join(dir, "raspios.img")
	args := []string{"sample-image.sh", img, "--arch", o.arch}
	if o.cloudInit {
		args = append(args, "--cloud-init")
	}
	cmd := exec.Command("bash", args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sample-image.sh: %v\n%s", err, out)
	}
	rootStart := bootStart + bootKiB*2
	return piImage{path: img, bootOff: bootStart * 512, rootOff: int64(rootStart) * 512}
}

// ---- reading a finished image back ----

func (p piImage) root() string { return p.path + "?offset=" + strconv.FormatInt(p.rootOff, 10) }
func (p piImage) boot() string { return p.path + "@@" + strconv.FormatInt(p.bootOff, 10) }

// cat returns a root file's contents, failing when it is missing.
func (p piImage) cat(t *testing.T, path string) string {
	t.Helper()
	p.stat(t, path)
	out, err := exec.Command("debugfs", "-R", "cat "+path, p.root()).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", path, err)
	}
	return string(out)
}

// inode is what debugfs stat says about a path.
type inode struct {
	typ       string // regular, directory, symlink
	mode      int
	uid, gid  int
	size      int64
	linkDest  string
	rawOutput string
}

var (
	reType  = regexp.MustCompile(`Type: (\w+)\s+Mode:\s+(\d+)`)
	reOwner = regexp.MustCompile(`User:\s+(\d+)\s+Group:\s+(\d+).*Size: (\d+)`)
	reLink  = regexp.MustCompile(`Fast link dest: "([^"]*)"`)
)

func (p piImage) stat(t *testing.T, path string) inode {
	t.Helper()
	ino, ok := p.lookup(t, path)
	if !ok {
		t.Fatalf("%s: missing from the image", path)
	}
	return ino
}

func (p piImage) lookup(t *testing.T, path string) (inode, bool) {
	t.Helper()
	out, _ := exec.Command("debugfs", "-R", "stat "+path, p.root()).CombinedOutput()
	s := string(out)
	if strings.Contains(s, "File not found") {
		return inode{}, false
	}
	m := reType.FindStringSubmatch(s)
	o := reOwner.FindStringSubmatch(s)
	if m == nil || o == nil {
		t.Fatalf("debugfs stat %s: unexpected output\n%s", path, s)
	}
	mode, _ := strconv.ParseInt(m[2], 8, 32)
	uid, _ := strconv.Atoi(o[1])
	gid, _ := strconv.Atoi(o[2])
	size, _ := strconv.ParseInt(o[3], 10, 64)
	ino := inode{typ: m[1], mode: int(mode), uid: uid, gid: gid, size: size, rawOutput: s}
	if l := reLink.FindStringSubmatch(s); l != nil {
		ino.linkDest = l[1]
	}
	return ino, true
}

func (p piImage) bootCat(t *testing.T, name string) string {
	t.Helper()
	cmd := exec.Command("mtype", "-i", p.boot(), "::/"+name)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mtype %s: %v\n%s", name, err, out)
	}
	return strings.ReplaceAll(string(out), "\r", "")
}

func (p piImage) bootHas(t *testing.T, name string) bool {
	t.Helper()
	cmd := exec.Command("mdir", "-b", "-i", p.boot(), "::/"+name)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	return cmd.Run() == nil
}

// fsck checks both file systems read-only: e2fsck -fn on the root at its
// offset, fsck.fat -n on a copy of the boot partition.
func (p piImage) fsck(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("e2fsck", "-fn", p.root()).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, out)
	}
	fat := filepath.Join(t.TempDir(), "boot.fat")
	run(t, "dd", "if="+p.path, "of="+fat, "bs=512", "skip="+strconv.FormatInt(p.bootOff/512, 10),
		"count="+strconv.Itoa(bootKiB*2), "status=none")
	if out, err := exec.Command("fsck.fat", "-n", fat).CombinedOutput(); err != nil {
		t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
}

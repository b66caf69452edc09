package scripts_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeCard is a regular file standing in for /dev/NAME, with a fake sysfs
// and mount table for flash.sh's safety checks.
type fakeCard struct {
	dev, sysfs, mounts, swaps string
	size                      int64
}

func newFakeCard(t *testing.T, name string, size int64, removable bool) fakeCard {
	t.Helper()
	dir := t.TempDir()
	c := fakeCard{
		dev:    filepath.Join(dir, "dev", name),
		sysfs:  filepath.Join(dir, "sys"),
		mounts: filepath.Join(dir, "mounts"),
		swaps:  filepath.Join(dir, "swaps"),
		size:   size,
	}
	// Garbage on the "card": the written image must replace it.
	junk := make([]byte, 1<<20)
	if _, err := rand.Read(junk); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.dev, strings.Repeat(string(junk), int(size>>20)), 0o644)
	rem := "0"
	if removable {
		rem = "1"
	}
	blk := filepath.Join(c.sysfs, "block", name)
	writeFile(t, filepath.Join(blk, "removable"), rem+"\n", 0o644)
	writeFile(t, filepath.Join(blk, "size"), strconv.FormatInt(size/512, 10)+"\n", 0o644)
	writeFile(t, filepath.Join(blk, "device/vendor"), "Generic \n", 0o644)
	writeFile(t, filepath.Join(blk, "device/model"), "STORAGE DEVICE  \n", 0o644)
	for _, p := range []string{"1", "2"} {
		writeFile(t, filepath.Join(blk, name+p, "partition"), p+"\n", 0o644)
		writeFile(t, filepath.Join(c.sysfs, "class/block", name+p, "partition"), p+"\n", 0o644)
	}
	// The running system lives on sda.
	writeFile(t, filepath.Join(c.sysfs, "block/sda/removable"), "0\n", 0o644)
	writeFile(t, filepath.Join(c.sysfs, "block/sda/sda2/partition"), "2\n", 0o644)
	c.setMounts(t, "/dev/sda2 / ext4 rw,relatime 0 0\n/dev/sda1 /boot/efi vfat rw 0 0\nproc /proc proc rw 0 0\n")
	writeFile(t, c.swaps, "Filename\tType\tSize\tUsed\tPriority\n", 0o644)
	return c
}

func (c fakeCard) setMounts(t *testing.T, table string) { writeFile(t, c.mounts, table, 0o644) }

func (c fakeCard) env(extra ...string) []string {
	return append([]string{
		"MESHBOX_FLASH_SYSFS=" + c.sysfs,
		"MESHBOX_FLASH_MOUNTS=" + c.mounts,
		"MESHBOX_FLASH_SWAPS=" + c.swaps,
		"MESHBOX_FLASH_TEST_DEVICE=" + c.dev,
	}, extra...)
}

func (c fakeCard) content(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(c.dev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFlashToCard(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imageOpts{}, "arm64")
	for _, tool := range []string{"dd", "bmaptool"} {
		t.Run(tool, func(t *testing.T) {
			if _, err := exec.LookPath(tool); err != nil {
				// bmaptool is optional in flash.sh too: dd is the baseline.
				t.Skipf("%s not installed (apt-get install bmap-tools)", tool)
			}
			card := newFakeCard(t, "sdz", 128<<20, true)
			env := card.env()
			if tool == "dd" {
				env = append(env, "MESHBOX_FLASH_NO_BMAPTOOL=1")
			}
			dev := card.dev
			if tool == "dd" {
				// Users often name the card by a stable /dev/disk/by-id link.
				dev = filepath.Join(t.TempDir(), "usb-Generic_STORAGE_DEVICE-0:0")
				if err := os.Symlink(card.dev, dev); err != nil {
					t.Fatal(err)
				}
			}
			out := mustFlash(t, env, f.img.path, dev, "--yes", "--board", "pi4", "--binary", f.binary, "--config", f.config)
			if !strings.Contains(out, "writing with "+tool) || !strings.Contains(out, "verified") {
				t.Fatalf("expected a verified %s write:\n%s", tool, out)
			}
			got := card.content(t)
			// dd keeps the device size; bmaptool truncates a regular file to the image.
			if st, _ := os.Stat(f.img.path); int64(len(got)) < st.Size() || int64(len(got)) > card.size {
				t.Fatalf("card holds %d bytes, image is %d", len(got), st.Size())
			}
			// The card now holds the finished image: read it back as one.
			onCard := f.img
			onCard.path = card.dev
			checkMeshboxInstalled(t, onCard, f.bin, testConfig)
			if cfg := onCard.bootCat(t, "config.txt"); !strings.Contains(cfg, "dtparam=strict_gpiod") {
				t.Errorf("card config.txt:\n%s", cfg)
			}
			onCard.fsck(t)
			if tool == "dd" {
				// dd copies every byte: the partition table matches the image.
				img, err := os.ReadFile(f.img.path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got[:512], img[:512]) {
					t.Error("MBR differs from the image")
				}
			}
		})
	}
}

func TestFlashCardRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, imageOpts{}, "arm64")
	args := func(dev string, more ...string) []string {
		return append([]string{f.img.path, dev, "--board", "pi4", "--binary", f.binary}, more...)
	}
	untouched := func(t *testing.T, c fakeCard, before []byte) {
		t.Helper()
		if !bytes.Equal(c.content(t), before) {
			t.Fatal("device was written despite the refusal")
		}
	}

	t.Run("mounted", func(t *testing.T) {
		c := newFakeCard(t, "sdz", 128<<20, true)
		c.setMounts(t, "/dev/sda2 / ext4 rw 0 0\n/dev/sdz1 /media/alice/bootfs vfat rw 0 0\n")
		before := c.content(t)
		flashFails(t, c.env(), "", "in use, unmount it first: /dev/sdz1 /media/alice/bootfs", args(c.dev, "--yes")...)
		untouched(t, c, before)
	})
	t.Run("swap", func(t *testing.T) {
		c := newFakeCard(t, "sdz", 128<<20, true)
		writeFile(t, c.swaps, "Filename\tType\tSize\tUsed\tPriority\n/dev/sdz2  partition\t1024\t0\t-2\n", 0o644)
		before := c.content(t)
		flashFails(t, c.env(), "", "in use, unmount it first: /dev/sdz2 [swap]", args(c.dev, "--yes")...)
		untouched(t, c, before)
	})
	t.Run("system disk", func(t *testing.T) {
		c := newFakeCard(t, "sdz", 128<<20, true)
		c.setMounts(t, "/dev/sdz2 / ext4 rw 0 0\n")
		before := c.content(t)
		flashFails(t, c.env(), "", "holds / of the running system (/dev/sdz2): refusing to write to the system disk", args(c.dev, "--yes")...)
		untouched(t, c, before)
	})
	t.Run("system disk via device mapper", func(t *testing.T) {
		c := newFakeCard(t, "sdz", 128<<20, true)
		writeFile(t, filepath.Join(c.sysfs, "block/dm-0/slaves/sdz2/partition"), "2\n", 0o644)
		c.setMounts(t, "/dev/dm-0 /home ext4 rw 0 0\n")
		before := c.content(t)
		flashFails(t, c.env(), "", "holds /home of the running system", args(c.dev, "--yes")...)
		untouched(t, c, before)
	})
	t.Run("not removable", func(t *testing.T) {
		c := newFakeCard(t, "sdz", 128<<20, false)
		before := c.content(t)
		flashFails(t, c.env(), "", "is not removable media", args(c.dev, "--yes")...)
		untouched(t, c, before)
	})
	t.Run("partition", func(t *testing.T) {
		c := newFakeCard(t, "sdz", 128<<20, true)
		part := filepath.Join(filepath.Dir(c.dev), "sdz1")
		writeFile(t, part, strings.Repeat("p", 1<<20), 0o644)
		env := c.env("MESHBOX_FLASH_TEST_DEVICE=" + part)
		flashFails(t, env, "", "is a partition; give the whole card (e.g. /dev/sdz)", args(part, "--yes")...)
		if b, _ := os.ReadFile(part); string(b) != strings.Repeat("p", 1<<20) {
			t.Fatal("partition written")
		}
	})
	t.Run("not a block device", func(t *testing.T) {
		c := newFakeCard(t, "sdz", 128<<20, true)
		before := c.content(t)
		env := c.env("MESHBOX_FLASH_TEST_DEVICE=")
		flashFails(t, env, "", "is not a block device", args(c.dev, "--yes")...)
		untouched(t, c, before)
	})
	t.Run("too small", func(t *testing.T) {
		c := newFakeCard(t, "sdz", 16<<20, true)
		before := c.content(t)
		flashFails(t, c.env(), "", "is too small", args(c.dev, "--yes")...)
		untouched(t, c, before)
	})
	t.Run("no confirmation", func(t *testing.T) {
		c := newFakeCard(t, "sdz", 128<<20, true)
		before := c.content(t)
		// The prompt names the card; anything but "yes" (or EOF) refuses.
		for _, answer := range []string{"", "no\n", "y\n"} {
			out, err := flash(t, c.env(), answer, args(c.dev)...)
			if err == nil || !strings.Contains(out, "not confirmed; nothing written") ||
				!strings.Contains(out, "About to ERASE "+c.dev+": Generic STORAGE DEVICE, 134.2MB.") {
				t.Fatalf("answer %q: %v\n%s", answer, err, out)
			}
		}
		untouched(t, c, before)
		out, err := flash(t, c.env("MESHBOX_FLASH_NO_BMAPTOOL=1"), "yes\n", args(c.dev)...)
		if err != nil || !strings.Contains(out, "verified: sha256") {
			t.Fatalf("confirmed write: %v\n%s", err, out)
		}
	})
	t.Run("missing device", func(t *testing.T) {
		flashFails(t, nil, "", "does not exist", args(filepath.Join(t.TempDir(), "sdq"), "--yes")...)
	})
}

// TestVerifyCatchesBadCard runs flash.sh's read-back checks against a
// "card" that lost a byte after writing: both the dd and the bmap
// verification must fail.
func TestVerifyCatchesBadCard(t *testing.T) {
	t.Parallel()
	requireTools(t, "bash", "sha256sum", "dd")
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	data := make([]byte, 3<<20)
	if _, err := rand.Read(data[:1<<20]); err != nil { // 1 MiB data, 2 MiB hole
		t.Fatal(err)
	}
	writeFile(t, img, string(data), 0o644)
	card := filepath.Join(dir, "card")
	lib := `set -euo pipefail
die() { echo "error: $*"; exit 1; }
info() { echo "$*"; }
TMP=$(mktemp -d)
source lib/device.sh
`
	sh := func(script string) (string, error) {
		cmd := exec.Command("bash", "-c", lib+script, "verify", img, card)
		cmd.Env = append(os.Environ(), "TMPDIR="+dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	corrupt := func() {
		b, err := os.ReadFile(card)
		if err != nil {
			t.Fatal(err)
		}
		b[123456] ^= 0x40
		writeFile(t, card, string(b), 0o644)
	}
	writeFile(t, card, string(data), 0o644)
	if out, err := sh(`verify_full "$1" "$2" $(stat -c %s "$1")`); err != nil {
		t.Fatalf("good card: %v\n%s", err, out)
	}
	corrupt()
	if out, err := sh(`verify_full "$1" "$2" $(stat -c %s "$1")`); err == nil || !strings.Contains(out, "verification FAILED") {
		t.Fatalf("corrupt card passed the dd verification: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("bmaptool"); err != nil {
		t.Skip("bmaptool not installed")
	}
	writeFile(t, card, string(data), 0o644)
	bmapScript := `bmaptool -q create -o "$TMP/b" "$1"; verify_bmap "$TMP/b" "$2"`
	if out, err := sh(bmapScript); err != nil {
		t.Fatalf("good card: %v\n%s", err, out)
	}
	corrupt()
	if out, err := sh(bmapScript); err == nil || !strings.Contains(out, "verification FAILED at blocks") {
		t.Fatalf("corrupt card passed the bmap verification: %v\n%s", err, out)
	}
}

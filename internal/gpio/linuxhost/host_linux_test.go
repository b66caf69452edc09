package linuxhost

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/meshbox/meshbox/internal/gpio"
)

func TestReadFile(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p := filepath.Join(t.TempDir(), "temp")
	_ = os.WriteFile(p, []byte("48312\n"), 0o644)
	if b, err := h.ReadFile(p); err != nil || string(b) != "48312\n" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := h.ReadFile(p + "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big")
	_ = os.WriteFile(big, make([]byte, maxFile+1), 0o644)
	if _, err := h.ReadFile(big); err == nil {
		t.Fatal("oversized file accepted")
	}
}

func TestSerialOverPTY(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	name := tty.Name()
	_ = tty.Close()
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.Serial(name, 0); err == nil {
		t.Fatal("baud 0 accepted")
	}
	port, err := h.Serial(name, 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	if _, err := ptmx.Write([]byte("temp=21.5\n")); err != nil {
		t.Fatal(err)
	}
	if err := port.SetReadTimeout(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 64)
	for !strings.Contains(string(got), "\n") {
		n, err := port.Read(buf)
		if err != nil || n == 0 {
			t.Fatalf("read %q: n=%d err=%v", got, n, err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "temp=21.5\n" {
		t.Fatalf("got %q", got)
	}
	if _, err := port.Write([]byte("relay=1\n")); err != nil {
		t.Fatal(err)
	}
	n, err := ptmx.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "relay=1") {
		t.Fatalf("master read %q %v", buf[:n], err)
	}
	_ = port.SetReadTimeout(30 * time.Millisecond)
	if n, err := port.Read(buf); n != 0 || err != nil {
		t.Fatalf("timed-out read: %d %v", n, err)
	}
	if _, err := h.Serial(filepath.Join(t.TempDir(), "ttyNONE"), 9600); err == nil {
		t.Fatal("missing port opened")
	}
}

func TestI2CUnknownBus(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.I2C("97"); err == nil {
		t.Fatal("bus 97 opened")
	}
}

// TestGPIOLines needs a GPIO character device. It only claims the line named
// by MESHBOX_TEST_GPIO_LINE ("gpiochip0:5" or a BCM number: a free, unwired
// line), never a line of its own choosing.
func TestGPIOLines(t *testing.T) {
	if !Available() {
		t.Skip("no /dev/gpiochip* on this machine")
	}
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := HeaderChip(h.Chips()); err != nil {
		t.Fatal(err)
	}
	spec := os.Getenv("MESHBOX_TEST_GPIO_LINE")
	if spec == "" {
		t.Skip("set MESHBOX_TEST_GPIO_LINE=chip:offset (a free line) to exercise output/input requests")
	}
	var l gpio.Line
	chip, off, ok := strings.Cut(spec, ":")
	if !ok {
		chip, off = "", spec
	}
	l.Chip = chip
	if l.Offset, err = strconv.Atoi(off); err != nil {
		t.Fatal(err)
	}
	o, err := h.Output(l, true)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Level() {
		t.Fatal("initial level not kept")
	}
	for _, v := range []bool{false, true, false} {
		if err := o.Out(v); err != nil || o.Level() != v {
			t.Fatalf("Out(%v): %v", v, err)
		}
	}
	if _, err := h.Input(l, gpio.PullUp); err == nil {
		t.Fatal("output line claimed again as input")
	}
	if _, err := h.Output(gpio.Line{Chip: chip, Offset: 100000}, false); err == nil {
		t.Fatal("offset 100000 accepted")
	}
	_ = h.Close()
	if err := o.Out(true); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	h2, _ := New(Options{})
	defer h2.Close()
	in, err := h2.Input(l, gpio.PullDown)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := in.WaitForEdge(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForEdge on a quiet line: %v", err)
	}
}

// TestSerialDeviceGone: a USB adapter that is unplugged leaves an open port
// that only times out; once its device node is gone, Read reports it so the
// bridge reopens the port (with backoff) instead of waiting forever.
func TestSerialDeviceGone(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	node := filepath.Join(t.TempDir(), "ttyUSB0") // stands in for the /dev node
	if err := os.Symlink(tty.Name(), node); err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	port, err := h.Serial(node, 9600)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	_ = port.SetReadTimeout(20 * time.Millisecond)
	buf := make([]byte, 16)
	if n, err := port.Read(buf); n != 0 || err != nil {
		t.Fatalf("timed-out read with the device present = %d, %v; want 0, nil", n, err)
	}
	if err := os.Remove(node); err != nil {
		t.Fatal(err)
	}
	if _, err := port.Read(buf); err == nil || !strings.Contains(err.Error(), "device gone") {
		t.Fatalf("read after the device node went away: %v, want a device gone error", err)
	}
}

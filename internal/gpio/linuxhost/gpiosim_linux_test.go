package linuxhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
)

// The kernel's configfs GPIO simulator (gpio-sim, CONFIG_GPIO_SIM) gives a
// real character-device chip whose lines we can observe and drive from
// sysfs. TestMain creates one before periph enumerates chips (once per
// process), when the module is loaded and we may write configfs.
const gpioSimConfig = "/sys/kernel/config/gpio-sim"

// simChip is the chip TestMain created ("" when gpio-sim is unavailable).
type simChip struct {
	dir, chip, dev string
	skip           string
}

var testSim simChip

func setupGPIOSim() simChip {
	if _, err := os.Stat(gpioSimConfig); err != nil {
		return simChip{skip: "gpio-sim not available (modprobe gpio-sim; needs CONFIG_GPIO_SIM and configfs)"}
	}
	dir := filepath.Join(gpioSimConfig, fmt.Sprintf("meshbox-test-%d", os.Getpid()))
	bank := filepath.Join(dir, "gpio-bank0")
	w := func(p, v string) error { return os.WriteFile(p, []byte(v), 0o644) }
	steps := []func() error{
		func() error { return os.Mkdir(dir, 0o755) },
		func() error { return os.Mkdir(bank, 0o755) },
		func() error { return w(filepath.Join(bank, "num_lines"), "8") },
		func() error { return w(filepath.Join(bank, "label"), "meshbox-sim") },
		func() error { return w(filepath.Join(dir, "live"), "1") },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			teardownGPIOSim(simChip{dir: dir})
			return simChip{skip: "cannot create a gpio-sim chip: " + err.Error()}
		}
	}
	chip, err1 := os.ReadFile(filepath.Join(bank, "chip_name"))
	dev, err2 := os.ReadFile(filepath.Join(dir, "dev_name"))
	if err := errors.Join(err1, err2); err != nil {
		teardownGPIOSim(simChip{dir: dir})
		return simChip{skip: "gpio-sim names: " + err.Error()}
	}
	return simChip{dir: dir, chip: strings.TrimSpace(string(chip)), dev: strings.TrimSpace(string(dev))}
}

func teardownGPIOSim(s simChip) {
	if s.dir == "" {
		return
	}
	_ = os.WriteFile(filepath.Join(s.dir, "live"), []byte("0"), 0o644)
	_ = os.Remove(filepath.Join(s.dir, "gpio-bank0"))
	_ = os.Remove(s.dir)
}

func TestMain(m *testing.M) {
	testSim = setupGPIOSim()
	code := m.Run()
	teardownGPIOSim(testSim)
	os.Exit(code)
}

// simAttr is a line's sysfs attribute on the simulated chip.
func (s simChip) attr(offset int, name string) string {
	return filepath.Join("/sys/devices/platform", s.dev, s.chip, fmt.Sprintf("sim_gpio%d", offset), name)
}

func (s simChip) value(t *testing.T, offset int) string {
	t.Helper()
	b, err := os.ReadFile(s.attr(offset, "value"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestGPIOSimChip(t *testing.T) {
	if testSim.chip == "" {
		t.Skip(testSim.skip)
	}
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := FindChip(h.Chips(), "meshbox-sim"); err != nil {
		t.Fatalf("simulated chip not enumerated: %v", err)
	}
	// Output requested high is high from the first instant, then follows Out.
	o, err := h.Output(gpio.Line{Chip: testSim.chip, Offset: 2}, true)
	if err != nil {
		t.Fatal(err)
	}
	if v := testSim.value(t, 2); v != "1" {
		t.Fatalf("output requested high reads %s", v)
	}
	if err := o.Out(false); err != nil || testSim.value(t, 2) != "0" || o.Level() {
		t.Fatalf("Out(false): %v, value %s", err, testSim.value(t, 2))
	}
	o3, err := h.Output(gpio.Line{Chip: "/dev/" + testSim.chip, Offset: 3}, false)
	if err != nil || testSim.value(t, 3) != "0" {
		t.Fatalf("output low: %v", err)
	}
	_ = o3
	if _, err := h.Output(gpio.Line{Chip: testSim.chip, Offset: 2}, false); err == nil {
		t.Fatal("line claimed twice")
	}
	if _, err := h.Output(gpio.Line{Chip: testSim.chip, Offset: 8}, false); err == nil {
		t.Fatal("offset 8 of 8 accepted")
	}

	// Input with edges, driven through the simulator's pull attribute.
	in, err := h.Input(gpio.Line{Chip: testSim.chip, Offset: 5}, gpio.PullDown)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := in.Read(); err != nil || v {
		t.Fatalf("pulled-down input reads %v %v", v, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, pull := range []string{"pull-up", "pull-down"} {
		if err := os.WriteFile(testSim.attr(5, "pull"), []byte(pull), 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := in.WaitForEdge(ctx)
		if err != nil || e.Level != (pull == "pull-up") {
			t.Fatalf("%s: edge %+v %v", pull, e, err)
		}
	}
	quiet, cancelQuiet := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancelQuiet()
	if _, err := in.WaitForEdge(quiet); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("quiet line: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Out(true); !errors.Is(err, ErrClosed) {
		t.Fatalf("Out after Close: %v", err)
	}
	if _, err := in.WaitForEdge(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitForEdge after Close: %v", err)
	}
}

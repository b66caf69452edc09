package linuxhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
)

// fakePWMChip builds /sys/class/pwm/pwmchipN with npwm channels under root.
func fakePWMChip(t *testing.T, root string, chip, npwm int) string {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprintf("pwmchip%d", chip))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"export": "", "unexport": "", "npwm": strconv.Itoa(npwm) + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// exportChannel creates pwmM with the kernel's initial attribute values.
func exportChannel(t *testing.T, chipDir string, ch int) {
	d := filepath.Join(chipDir, fmt.Sprintf("pwm%d", ch))
	tmp := d + ".tmp"
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Error(err)
		return
	}
	for _, a := range []string{"period", "duty_cycle", "enable"} {
		if err := os.WriteFile(filepath.Join(tmp, a), []byte("0\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
	if err := os.Rename(tmp, d); err != nil {
		t.Error(err)
	}
}

func readAttr(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseSysfsInt(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// kernelRules wraps writeAttr with the PWM core's checks: duty_cycle never
// above period, enable only with a period.
type kernelRules struct {
	mu     sync.Mutex
	t      *testing.T
	writes []string
}

func (k *kernelRules) write(path string, data []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	dir, name := filepath.Split(path)
	v, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	get := func(a string) int64 {
		b, _ := os.ReadFile(filepath.Join(dir, a))
		x, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return x
	}
	switch name {
	case "duty_cycle":
		if v > get("period") {
			return fmt.Errorf("duty %d > period %d: %w", v, get("period"), os.ErrInvalid)
		}
	case "period":
		if v < get("duty_cycle") {
			return fmt.Errorf("period %d < duty %d: %w", v, get("duty_cycle"), os.ErrInvalid)
		}
	case "enable":
		if v == 1 && get("period") == 0 {
			return fmt.Errorf("enable without period: %w", os.ErrInvalid)
		}
	}
	k.writes = append(k.writes, name+"="+strings.TrimSpace(string(data)))
	return writeAttr(path, data)
}

func TestPWMExportWaitAndOrdering(t *testing.T) {
	root := t.TempDir()
	chip := fakePWMChip(t, root, 0, 2)
	// The "kernel" creates pwm1 a little after the export write.
	go func() {
		for range 200 {
			if b, _ := os.ReadFile(filepath.Join(chip, "export")); strings.TrimSpace(string(b)) == "1" {
				time.Sleep(60 * time.Millisecond)
				exportChannel(t, chip, 1)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	k := &kernelRules{t: t}
	p, err := openPWM(context.Background(), root, gpio.PWMRef{Chip: 0, Channel: 1, Pin: 13}, 2*time.Second, k.write)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(chip, "pwm1")
	steps := []struct {
		hz, duty       float64
		period, dutyNS int64
	}{
		{1000, 0.25, 1_000_000, 250_000},
		{1000, 1, 1_000_000, 1_000_000},
		{50_000, 0.5, 20_000, 10_000}, // shorter period: duty must be written first
		{100, 0.1, 10_000_000, 1_000_000},
		{100, 0, 10_000_000, 0},
	}
	for _, s := range steps {
		if err := p.Set(s.hz, s.duty); err != nil {
			t.Fatalf("Set(%v, %v): %v (writes %v)", s.hz, s.duty, err, k.writes)
		}
		if got := readAttr(t, filepath.Join(dir, "period")); got != s.period {
			t.Errorf("period %d, want %d", got, s.period)
		}
		if got := readAttr(t, filepath.Join(dir, "duty_cycle")); got != s.dutyNS {
			t.Errorf("duty_cycle %d, want %d", got, s.dutyNS)
		}
		if p.Duty() != s.duty {
			t.Errorf("Duty() %v, want %v", p.Duty(), s.duty)
		}
	}
	if readAttr(t, filepath.Join(dir, "enable")) != 1 {
		t.Error("not enabled")
	}
	if n := strings.Count(strings.Join(k.writes, " "), "enable="); n != 1 {
		t.Errorf("enable written %d times: %v", n, k.writes)
	}
	for _, bad := range [][2]float64{{0, 0.5}, {-1, 0.5}, {1000, 1.01}, {1000, -0.1}} {
		if err := p.Set(bad[0], bad[1]); err == nil {
			t.Errorf("Set(%v, %v) accepted", bad[0], bad[1])
		}
	}
}

func TestPWMErrors(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	if _, err := openPWM(ctx, root, gpio.PWMRef{Chip: 0}, 50*time.Millisecond, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing chip: %v", err)
	}
	fakePWMChip(t, root, 2, 4)
	if _, err := openPWM(ctx, root, gpio.PWMRef{Chip: 2, Channel: 4}, 50*time.Millisecond, nil); err == nil {
		t.Error("channel 4 of 4 accepted")
	}
	// Exported but never appears: times out with a clear error.
	if _, err := openPWM(ctx, root, gpio.PWMRef{Chip: 2, Channel: 0}, 80*time.Millisecond, nil); err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Errorf("never ready: %v", err)
	}
}

func TestHostPWMAlreadyExported(t *testing.T) {
	root := t.TempDir()
	chip := fakePWMChip(t, root, 0, 2)
	exportChannel(t, chip, 0)
	// Left running by a previous process at 50 %.
	_ = os.WriteFile(filepath.Join(chip, "pwm0", "period"), []byte("1000000\n"), 0o644)
	_ = os.WriteFile(filepath.Join(chip, "pwm0", "duty_cycle"), []byte("500000\n"), 0o644)
	_ = os.WriteFile(filepath.Join(chip, "pwm0", "enable"), []byte("1\n"), 0o644)
	h, err := New(Options{PWMRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p, err := h.PWM(gpio.PWMRef{Chip: 0, Channel: 0, Pin: 18})
	if err != nil {
		t.Fatal(err)
	}
	if p.Duty() != 0.5 {
		t.Errorf("found duty %v, want 0.5", p.Duty())
	}
	if _, err := h.PWM(gpio.PWMRef{Chip: 0, Channel: 0}); err == nil {
		t.Error("channel opened twice")
	}
	if err := p.Set(2000, 0.75); err != nil {
		t.Fatal(err)
	}
	if got := readAttr(t, filepath.Join(chip, "pwm0", "duty_cycle")); got != 375000 {
		t.Errorf("duty_cycle %d", got)
	}
	if b, _ := os.ReadFile(filepath.Join(chip, "export")); len(b) != 0 {
		t.Errorf("re-exported an exported channel: %q", b)
	}
}

func FuzzParseSysfsInt(f *testing.F) {
	f.Add([]byte("20000000\n"))
	f.Add([]byte("-1"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseSysfsInt(b)
		if err != nil {
			return
		}
		if len(b) > 32 {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if w, err := ParseSysfsInt([]byte(strconv.FormatInt(v, 10))); err != nil || w != v {
			t.Fatalf("%q -> %d does not round-trip", b, v)
		}
	})
}

package linuxhost

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
)

// DefaultPWMRoot is where the kernel exposes PWM chips.
const DefaultPWMRoot = "/sys/class/pwm"

// sysfsPWM drives one channel of /sys/class/pwm/pwmchipN.
type sysfsPWM struct {
	ref   gpio.PWMRef
	dir   string // .../pwmchipN/pwmM
	write func(path string, data []byte) error

	mu      sync.Mutex
	period  int64 // ns, as last written or found
	dutyNS  int64
	duty    float64
	enabled bool
}

// writeAttr writes a sysfs attribute without creating it.
func writeAttr(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ParseSysfsInt parses a sysfs integer attribute ("20000000\n").
func ParseSysfsInt(b []byte) (int64, error) {
	if len(b) > 32 {
		return 0, fmt.Errorf("sysfs integer: %d bytes", len(b))
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// writable opens path for writing without writing to it.
func writable(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

func readInt(path string) (int64, error) {
	b, err := readFile(path)
	if err != nil {
		return 0, err
	}
	v, err := ParseSysfsInt(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// openPWM exports the channel if needed and waits (up to wait) until udev
// has made its attributes writable. It does not change the output.
func openPWM(ctx context.Context, root string, ref gpio.PWMRef, wait time.Duration, write func(string, []byte) error) (*sysfsPWM, error) {
	if ref.Chip < 0 || ref.Channel < 0 {
		return nil, fmt.Errorf("pwm: invalid pwmchip%d channel %d", ref.Chip, ref.Channel)
	}
	if write == nil {
		write = writeAttr
	}
	chip := filepath.Join(root, fmt.Sprintf("pwmchip%d", ref.Chip))
	if _, err := os.Stat(chip); err != nil {
		return nil, fmt.Errorf("pwm: %s: %w (is the PWM overlay enabled, e.g. dtoverlay=pwm-2chan?)", chip, err)
	}
	if n, err := readInt(filepath.Join(chip, "npwm")); err == nil && int64(ref.Channel) >= n {
		return nil, fmt.Errorf("pwm: pwmchip%d has %d channels, no channel %d", ref.Chip, n, ref.Channel)
	}
	p := &sysfsPWM{ref: ref, dir: filepath.Join(chip, fmt.Sprintf("pwm%d", ref.Channel)), write: write}
	if _, err := os.Stat(p.dir); errors.Is(err, fs.ErrNotExist) {
		err := write(filepath.Join(chip, "export"), []byte(strconv.Itoa(ref.Channel)))
		// EBUSY: someone exported it between our Stat and the write.
		if err != nil && !errors.Is(err, syscallEBUSY()) {
			return nil, fmt.Errorf("pwm: export %s: %w", p.dir, err)
		}
	}
	// After export the kernel creates pwmM/ and udev fixes its permissions a
	// moment later: retry until period is writable.
	deadline := time.Now().Add(wait)
	for {
		period, err := readInt(filepath.Join(p.dir, "period"))
		if err == nil {
			err = writable(filepath.Join(p.dir, "period"))
		}
		if err == nil {
			p.period = period
			break
		}
		if time.Now().After(deadline) || !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscallEBUSY())) {
			return nil, fmt.Errorf("pwm: %s not ready after export: %w", p.dir, err)
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	if d, err := readInt(filepath.Join(p.dir, "duty_cycle")); err == nil {
		p.dutyNS = d
		if p.period > 0 {
			p.duty = float64(d) / float64(p.period)
		}
	}
	if e, err := readInt(filepath.Join(p.dir, "enable")); err == nil {
		p.enabled = e == 1
	}
	return p, nil
}

func (p *sysfsPWM) attr(name string, v int64) error {
	path := filepath.Join(p.dir, name)
	if err := p.write(path, []byte(strconv.FormatInt(v, 10))); err != nil {
		return fmt.Errorf("pwm: write %d to %s: %w", v, path, err)
	}
	return nil
}

// Set writes the period and duty cycle in an order the kernel accepts (the
// duty cycle may never exceed the period) and enables the channel.
func (p *sysfsPWM) Set(freq, duty float64) error {
	if !(freq > 0 && freq <= 100e6) || math.IsNaN(duty) || duty < 0 || duty > 1 {
		return fmt.Errorf("pwm: invalid frequency %v Hz / duty %v (want 0 < Hz ≤ 100 MHz, 0 ≤ duty ≤ 1)", freq, duty)
	}
	period := int64(math.Round(1e9 / freq))
	dutyNS := int64(math.Round(float64(period) * duty))
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	switch {
	case period == p.period:
		err = p.attr("duty_cycle", dutyNS)
	case period > p.period:
		if err = p.attr("period", period); err == nil {
			p.period = period
			err = p.attr("duty_cycle", dutyNS)
		}
	default:
		if err = p.attr("duty_cycle", dutyNS); err == nil {
			p.dutyNS = dutyNS
			err = p.attr("period", period)
		}
	}
	if err != nil {
		return err
	}
	p.period, p.dutyNS, p.duty = period, dutyNS, duty
	if !p.enabled {
		if err := p.attr("enable", 1); err != nil {
			return err
		}
		p.enabled = true
	}
	return nil
}

// Duty returns the duty cycle last set (or found at open).
func (p *sysfsPWM) Duty() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.duty
}

func (p *sysfsPWM) String() string {
	return fmt.Sprintf("pwmchip%d/pwm%d", p.ref.Chip, p.ref.Channel)
}

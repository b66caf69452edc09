package linuxhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/driver/driverreg"
	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3/gpioioctl"
	_ "periph.io/x/host/v3/sysfs" // registers the sysfs I²C (and GPIO, thermal) drivers with driverreg

	"github.com/meshbox/meshbox/internal/gpio"
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("linuxhost: closed")

// Available reports whether the kernel exposes a GPIO character device.
func Available() bool {
	m, _ := filepath.Glob("/dev/gpiochip*")
	return len(m) > 0
}

// Host is the Linux hardware backend.
type Host struct {
	opts  Options
	log   *slog.Logger
	chips []ChipInfo

	mu      sync.Mutex
	closed  bool
	claimed map[string]func() error // "gpiochip0:17" -> release
}

// New initialises periph's GPIO character-device and sysfs drivers (only
// those: the packages registered by import) with driverreg.Init. A machine
// without GPIO chips still gets a Host: its I²C, serial, PWM and ReadFile
// work, and opening a line reports the missing chip.
func New(opts Options) (*Host, error) {
	opts.defaults()
	state, err := driverreg.Init()
	if err != nil {
		return nil, fmt.Errorf("periph driverreg.Init: %w", err)
	}
	for _, d := range state.Loaded {
		opts.Logger.Debug("periph driver loaded", "driver", d.String())
	}
	for _, f := range state.Skipped {
		opts.Logger.Debug("periph driver skipped", "driver", f.D.String(), "reason", f.Err)
	}
	for _, f := range state.Failed {
		opts.Logger.Warn("periph driver failed", "driver", f.D.String(), "err", f.Err)
	}
	h := &Host{opts: opts, log: opts.Logger, claimed: map[string]func() error{}}
	for _, c := range gpioioctl.Chips {
		h.chips = append(h.chips, ChipInfo{Name: c.Name(), Path: c.Path(), Label: c.Label(), Lines: c.LineCount()})
	}
	if hc, err := HeaderChip(h.chips); err == nil {
		opts.Logger.Info("GPIO header chip", "chip", hc.Name, "label", hc.Label, "lines", hc.Lines)
	} else {
		opts.Logger.Info("no GPIO chip: lines cannot be opened")
	}
	return h, nil
}

// Chips lists the GPIO chips found.
func (h *Host) Chips() []ChipInfo { return append([]ChipInfo(nil), h.chips...) }

func (h *Host) String() string { return "linux (gpio chardev, i2c-dev, sysfs pwm)" }

// resolve finds the chip and checks the offset.
func (h *Host) resolve(l gpio.Line) (ChipInfo, string, error) {
	c, err := FindChip(h.chips, l.Chip)
	if err != nil {
		return c, "", err
	}
	if l.Offset < 0 || l.Offset >= c.Lines {
		return c, "", fmt.Errorf("%s has lines 0..%d, not %d", c.Name, c.Lines-1, l.Offset)
	}
	return c, fmt.Sprintf("%s:%d", c.Name, l.Offset), nil
}

// claim registers key as in use; h.mu held.
func (h *Host) claim(key string) error {
	if h.closed {
		return ErrClosed
	}
	if _, ok := h.claimed[key]; ok {
		return fmt.Errorf("line %s is already in use by meshbox", key)
	}
	return nil
}

// Output requests l as an output driven at initial.
func (h *Host) Output(l gpio.Line, initial bool) (gpio.Output, error) {
	c, key, err := h.resolve(l)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.claim(key); err != nil {
		return nil, err
	}
	raw, err := requestOutput(c.Path, l.Offset, initial, h.opts.Consumer)
	if err != nil {
		return nil, err
	}
	o := &output{raw: raw, name: key, level: initial}
	h.claimed[key] = o.close
	h.log.Debug("gpio output", "line", key, "initial", initial)
	return o, nil
}

type output struct {
	name string
	mu   sync.Mutex
	raw  *rawOutput
	// level is the last level driven, kept in software: the line is never
	// read back.
	level  bool
	closed bool
}

func (o *output) Out(level bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	if err := o.raw.set(level); err != nil {
		return err
	}
	o.level = level
	return nil
}

func (o *output) Level() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.level
}

func (o *output) String() string { return "gpio-out " + o.name }

func (o *output) close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	return o.raw.close()
}

func periphPull(p gpio.Pull) pgpio.Pull {
	switch p {
	case gpio.PullUp:
		return pgpio.PullUp
	case gpio.PullDown:
		return pgpio.PullDown
	}
	return pgpio.Float
}

// Input requests l as an input with pull and edge detection on both edges.
func (h *Host) Input(l gpio.Line, pull gpio.Pull) (gpio.Input, error) {
	c, key, err := h.resolve(l)
	if err != nil {
		return nil, err
	}
	var line *gpioioctl.GPIOLine
	for _, pc := range gpioioctl.Chips {
		if pc.Name() == c.Name {
			line = pc.ByNumber(l.Offset)
		}
	}
	if line == nil {
		return nil, fmt.Errorf("line %s not found", key)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.claim(key); err != nil {
		return nil, err
	}
	if err := line.In(periphPull(pull), pgpio.BothEdges); err != nil {
		return nil, fmt.Errorf("gpio input %s: %w", key, err)
	}
	in := &input{line: line, name: key}
	h.claimed[key] = in.close
	h.log.Debug("gpio input", "line", key, "pull", pull)
	return in, nil
}

// edgePoll bounds each periph WaitForEdge so ctx is honoured promptly.
const edgePoll = 100 * time.Millisecond

type input struct {
	name string
	line *gpioioctl.GPIOLine
	// waitMu is held during periph's WaitForEdge; close takes it so the line
	// is never closed under a pending wait.
	waitMu sync.Mutex
	mu     sync.Mutex
	closed bool
}

func (in *input) isClosed() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.closed
}

func (in *input) Read() (bool, error) {
	if in.isClosed() {
		return false, ErrClosed
	}
	return bool(in.line.Read()), nil
}

// WaitForEdge waits in slices of edgePoll, checking ctx between them.
func (in *input) WaitForEdge(ctx context.Context) (gpio.Edge, error) {
	for {
		if err := ctx.Err(); err != nil {
			return gpio.Edge{}, err
		}
		if in.isClosed() {
			return gpio.Edge{}, ErrClosed
		}
		start := time.Now()
		in.waitMu.Lock()
		got := !in.isClosed() && in.line.WaitForEdge(edgePoll)
		in.waitMu.Unlock()
		if got {
			return gpio.Edge{Level: bool(in.line.Read()), Time: time.Now()}, nil
		}
		// A wait that failed at once (not a timeout) must not spin.
		if rest := edgePoll - time.Since(start); rest > edgePoll/2 {
			t := time.NewTimer(rest)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

func (in *input) String() string { return "gpio-in " + in.name }

func (in *input) close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	in.mu.Unlock()
	in.waitMu.Lock()
	defer in.waitMu.Unlock()
	in.line.Close()
	return nil
}

// PWM opens a /sys/class/pwm channel.
func (h *Host) PWM(ref gpio.PWMRef) (gpio.PWM, error) {
	key := fmt.Sprintf("pwmchip%d/pwm%d", ref.Chip, ref.Channel)
	h.mu.Lock()
	if err := h.claim(key); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	h.claimed[key] = func() error { return nil } // reserved while exporting
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.ExportWait+time.Second)
	defer cancel()
	p, err := openPWM(ctx, h.opts.PWMRoot, ref, h.opts.ExportWait, nil)
	if err != nil {
		h.mu.Lock()
		delete(h.claimed, key)
		h.mu.Unlock()
		return nil, err
	}
	h.log.Debug("pwm", "channel", key, "period_ns", p.period)
	return p, nil
}

// I2C opens a bus through i2creg: "1", "I2C1" or "/dev/i2c-1".
func (h *Host) I2C(bus string) (i2c.BusCloser, error) {
	if h.isClosed() {
		return nil, ErrClosed
	}
	name := bus
	if n, ok := strings.CutPrefix(bus, "i2c-"); ok {
		name = n
	}
	b, err := i2creg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("i2c bus %q: %w", bus, err)
	}
	return b, nil
}

// Serial opens a serial port at baud (8N1); reads block until SetReadTimeout.
func (h *Host) Serial(port string, baud int) (gpio.SerialPort, error) {
	if h.isClosed() {
		return nil, ErrClosed
	}
	return openSerial(port, baud)
}

// ReadFile reads a sysfs file (at most 64 KiB).
func (h *Host) ReadFile(path string) ([]byte, error) {
	return readFile(path)
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Close releases every line it requested. The owner sets outputs to their
// exit state first; the kernel keeps a released output's level on the Pi.
// PWM channels are left as set.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	var errs []error
	for k, release := range h.claimed {
		if err := release(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

var _ gpio.Host = (*Host)(nil)

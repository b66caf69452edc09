package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
)

const (
	serialReadTimeout = 250 * time.Millisecond
	serialMinRetry    = 500 * time.Millisecond
)

var (
	errNotConnected = errors.New("serial device not connected")
	errSerialBusy   = fmt.Errorf("%w: serial commands waiting", ErrBusy)
)

// serialQueue bounds the commands waiting for a serial device's writer.
const serialQueue = 16

type serialDev struct {
	cfg config.SerialDevice // immutable

	mu  sync.Mutex    // guards out; never held across I/O
	out chan<- []byte // the open port's writer queue; nil while not connected

	rateMu sync.Mutex // guards rate (never held across I/O)
	rate   logBucket  // commands: actuation_rate per second per device
}

// runSerial keeps the device open: it reads lines and publishes what they
// parse to; an error (unplugged device, closed port) is reported and the
// port reopened with exponential backoff.
func (b *Bridge) runSerial(ctx context.Context, d *serialDev) {
	bo := newBackoff(serialMinRetry, maxRetry)
	for ctx.Err() == nil {
		err := b.serveSerial(ctx, d, bo)
		if ctx.Err() != nil {
			return
		}
		b.stats.serialErrors.Add(1)
		wait := bo.next()
		b.log.Warn("serial device failed", "device", d.cfg.ID, "port", d.cfg.Port, "err", err, "retry", wait)
		b.sensorError(d.cfg.ID, err, wait)
		if sleepCtx(ctx, wait) != nil {
			return
		}
	}
}

// serveSerial opens the port and reads it until an error.
func (b *Bridge) serveSerial(ctx context.Context, d *serialDev, bo *backoff) error {
	baud := d.cfg.Baud
	if baud <= 0 {
		baud = config.DefaultBaud
	}
	p, err := b.host.Serial(d.cfg.Port, baud)
	if err != nil {
		return fmt.Errorf("open %s: %w", d.cfg.Port, err)
	}
	if err := p.SetReadTimeout(serialReadTimeout); err != nil {
		p.Close()
		return fmt.Errorf("set read timeout: %w", err)
	}
	// One writer per open port: commands are queued (serialCommand never
	// waits for the device) and written in order.
	out := make(chan []byte, serialQueue)
	quit := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		b.writeSerial(d, p, out, quit)
	}()
	d.mu.Lock()
	d.out = out
	d.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { p.Close() })
	defer func() {
		stop()
		d.mu.Lock()
		d.out = nil
		d.mu.Unlock()
		p.Close()
		close(quit)
		<-wrote
	}()
	if gpio.IsSimulated(b.host) {
		b.log.Info("serial device open (simulated port, no real device)", "device", d.cfg.ID, "port", d.cfg.Port, "baud", baud)
	} else {
		b.log.Info("serial device open", "device", d.cfg.ID, "port", d.cfg.Port, "baud", baud)
	}
	buf := make([]byte, 512)
	var line []byte
	overlong := false
	for {
		n, err := p.Read(buf)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n == 0 && err == nil {
			continue // read timeout; a port whose device is gone returns an error
		}
		data := buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				line = append(line, data...)
				if len(line) > maxLineLen {
					line, overlong = line[:0], true
				}
				break
			}
			line = append(line, data[:i]...)
			data = data[i+1:]
			if !overlong {
				b.serialLine(ctx, d, string(bytes.TrimRight(line, "\r")))
				bo.reset()
			} else {
				b.log.Warn("serial line too long, dropped", "device", d.cfg.ID)
			}
			line, overlong = line[:0], false
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
	}
}

// serialLine publishes one received line.
func (b *Bridge) serialLine(ctx context.Context, d *serialDev, line string) {
	fields, err := SerialMetrics(d.cfg, line)
	if err != nil {
		if strings.TrimSpace(line) != "" {
			b.stats.serialBadLines.Add(1)
			b.log.Debug("serial line not parsed", "device", d.cfg.ID, "err", err)
		}
		return
	}
	b.stats.serialLines.Add(1)
	b.recordReading(d.cfg.ID, fields)
}

// SerialMetrics parses one line of a serial device with its framing and
// maps the keys to metric names: a configured field (matched by Source,
// default Name) takes its Name and Scale/Offset; any other key becomes
// "<id>_<key>". A text-framed device yields {"<id>": line}.
func SerialMetrics(d config.SerialDevice, line string) (map[string]any, error) {
	var parsed map[string]any
	var err error
	switch d.Framing {
	case config.FramingText:
		s, err := ParseText(line)
		if err != nil {
			return nil, err
		}
		return map[string]any{d.ID: s}, nil
	case config.FramingJSON:
		parsed, err = ParseJSONLine([]byte(line))
	default:
		parsed, err = ParseKV(line)
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(parsed))
	for k, v := range parsed {
		name := d.ID + "_" + k
		for _, f := range d.Fields {
			src := f.Source
			if src == "" {
				src = f.Name
			}
			if src == k {
				name = f.Name
				if x, ok := v.(float64); ok {
					if y := scaled(f, x); !math.IsNaN(y) && !math.IsInf(y, 0) {
						v = y
					}
				}
				break
			}
		}
		out[name] = v
	}
	return out, nil
}

// serialValue is a command value as it may appear inside a line: every
// control character (C0, DEL, C1 including U+0085 NEL) and the Unicode line
// and paragraph separators (U+2028, U+2029) are dropped, and so are the
// bytes of invalid UTF-8, so a value never adds or splits a line.
func serialValue(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
}

// serialCommand queues the device's command name, with {{value}}
// replaced, for the port's writer; it never waits for the device (a full
// queue is ErrBusy). Commands are rate-limited per device (actuation_rate
// per second, the same budget as an output's changes).
func (b *Bridge) serialCommand(d *serialDev, name string, value any) error {
	tmpl, ok := d.cfg.Commands[name]
	if !ok {
		return fmt.Errorf("%w: %s has no command %q", ErrUnknownCmd, d.cfg.ID, name)
	}
	line := strings.ReplaceAll(tmpl, "{{value}}", serialValue(valueString(value)))
	if !strings.HasSuffix(line, "\n") {
		line += "\n"
	}
	d.mu.Lock()
	out := d.out
	d.mu.Unlock()
	if out == nil {
		return fmt.Errorf("%w: %s: %w", ErrHardware, d.cfg.ID, errNotConnected)
	}
	r := b.rate()
	d.rateMu.Lock()
	allowed := d.rate.take(time.Now(), math.Max(1, r), r)
	d.rateMu.Unlock()
	if !allowed {
		b.stats.rateLimited.Add(1)
		return fmt.Errorf("%w: %s takes at most %g commands a second", ErrRateLimited, d.cfg.ID, r)
	}
	select {
	case out <- []byte(line):
		return nil
	default:
		return fmt.Errorf("%s: %w", d.cfg.ID, errSerialBusy)
	}
}

// writeSerial writes the queued commands to p until quit; a failed write
// closes the port (the reader reopens it).
func (b *Bridge) writeSerial(d *serialDev, p gpio.SerialPort, out <-chan []byte, quit <-chan struct{}) {
	for {
		select {
		case <-quit:
			return
		case line := <-out:
			if _, err := p.Write(line); err != nil {
				b.stats.serialErrors.Add(1)
				b.log.Warn("serial command not written; reopening the port", "device", d.cfg.ID, "err", err)
				p.Close()
				continue
			}
			b.stats.serialWrites.Add(1)
		}
	}
}

package bridge

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/creack/pty"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"golang.org/x/sys/unix"
)

// openPTY returns the master side and the tty path of a new pseudo-terminal.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	name := tty.Name()
	// No echo: what the test writes as the device must not come back.
	if tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS); err == nil {
		tio.Lflag &^= unix.ECHO | unix.ICANON
		unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio)
	}
	// The bridge opens the tty itself; keeping our handle would hold the
	// line open after the master goes away.
	tty.Close()
	t.Cleanup(func() { master.Close() })
	return master, name
}

func serialConfig(port string, framing string) *config.Config {
	return &config.Config{
		Name: "meshbox",
		Serial: []config.SerialDevice{{
			ID: "uno", Port: port, Baud: 9600, Framing: framing,
			Commands: map[string]string{"beep": "BEEP {{value}}", "reset": "RST"},
			Fields:   []config.Field{{Name: "soil", Source: "m"}},
		}},
	}
}

func TestSerialOverPTY(t *testing.T) {
	master, tty := openPTY(t)
	h := newFakeHost()
	b, m := newTest(t, serialConfig(tty, "kv"), h, Options{})
	// The device talks: lines become metrics (with a partial write and CRLF).
	deadline := time.Now().Add(5 * time.Second)
	var got map[string]any
	for got == nil && time.Now().Before(deadline) {
		master.Write([]byte("m=512 t=2"))
		time.Sleep(5 * time.Millisecond)
		master.Write([]byte("1.5\r\n"))
		select {
		case f := <-m.ch:
			if f["msg_type"] == "metrics" {
				got = f
			}
		case <-time.After(200 * time.Millisecond):
		}
	}
	if got == nil {
		t.Fatal("no metrics from the serial device")
	}
	if got["source"] != "uno" || got["soil"] != 512.0 || got["uno_t"] != 21.5 {
		t.Errorf("metrics = %v", got)
	}
	if _, snap := b.Snapshot(); snap["soil"] != 512.0 {
		t.Errorf("snapshot soil = %v", snap["soil"])
	}
	// Commands are written as lines.
	rd := bufio.NewReader(master)
	lines := make(chan string, 8)
	go func() {
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			lines <- strings.TrimRight(l, "\r\n")
		}
	}()
	cmd(t, b, `{"msg_type":"command","command":"beep","target":"uno","value":"3\nRST","_cmd":"s1"}`)
	m.wait(t, "ack", isMsg("command_ack", "cmd_id", "s1", "ok", true))
	cmd(t, b, `{"msg_type":"cmd","target":"uno.beep","value":75}`)
	cmd(t, b, `{"msg_type":"cmd","target":"uno","value":"reset"}`)
	for _, want := range []string{"BEEP 3RST", "BEEP 75", "RST"} {
		select {
		case l := <-lines:
			if l != want {
				t.Errorf("device got %q, want %q", l, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("device did not get %q", want)
		}
	}
	cmd(t, b, `{"msg_type":"command","command":"nuke","target":"uno","_cmd":"s2"}`)
	m.wait(t, "ack", isMsg("command_ack", "cmd_id", "s2", "ok", false))
}

func TestSerialUnplugRetry(t *testing.T) {
	var mu sync.Mutex
	master, tty := openPTY(t)
	cur := tty
	h := newFakeHost()
	opens := 0
	h.serial = func(port string, baud int) (gpio.SerialPort, error) {
		mu.Lock()
		p := cur
		opens++
		mu.Unlock()
		return openSerial(p, baud)
	}
	b, m := newTest(t, serialConfig("uno-port", "json"), h, Options{})
	master.Write([]byte(`{"m":1}` + "\n"))
	m.wait(t, "metrics", isMsg("metrics", "soil", 1.0))
	// Unplug: the master goes away; the bridge reports and retries.
	master.Close()
	e := m.wait(t, "sensor_error", isMsg("sensor_error", "source", "uno"))
	if e["error"] == "" || e["retry_ms"].(float64) <= 0 {
		t.Errorf("error frame = %v", e)
	}
	if _, err := b.Apply(context.Background(), "uno.reset", nil, "t"); err == nil {
		t.Error("command on an unplugged device succeeded")
	}
	// Plug in again (a new pty): the bridge reconnects and reads.
	master2, tty2 := openPTY(t)
	mu.Lock()
	cur = tty2
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		master2.Write([]byte(`{"m":2}` + "\n"))
		select {
		case f := <-m.ch:
			if f["msg_type"] == "metrics" && f["soil"] == 2.0 {
				if b.Stats().SerialErrors == 0 {
					t.Error("SerialErrors not counted")
				}
				return
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("no metrics after replug")
}

// stalledPort is a serial device that never takes a write until released
// (flow control held off); reads time out.
type stalledPort struct {
	release chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func (p *stalledPort) Read(b []byte) (int, error) {
	select {
	case <-p.closed:
		return 0, errors.New("closed")
	case <-time.After(10 * time.Millisecond):
		return 0, nil
	}
}
func (p *stalledPort) Write(b []byte) (int, error) {
	select {
	case <-p.release:
		return len(b), nil
	case <-p.closed:
		return 0, errors.New("closed")
	}
}
func (p *stalledPort) SetReadTimeout(time.Duration) error { return nil }
func (p *stalledPort) Close() error                       { p.once.Do(func() { close(p.closed) }); return nil }

// TestSerialCommandNeverWaitsForTheDevice: commands to a stalled device are
// queued and answered at once; when the queue is full they are refused
// with "busy", and no call waits for the device.
func TestSerialCommandNeverWaitsForTheDevice(t *testing.T) {
	port := &stalledPort{release: make(chan struct{}), closed: make(chan struct{})}
	h := newFakeHost()
	h.serial = func(string, int) (gpio.SerialPort, error) { return port, nil }
	cfg := serialConfig("stalled", "kv")
	cfg.ActuationRate = 1000 // the queue fills before the command rate limit bites
	b, _ := newTest(t, cfg, h, Options{})
	ctx := context.Background()
	// Wait until the port is open (a command is then queued, not refused).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := b.Apply(ctx, "uno.reset", nil, "t")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrHardware) || time.Now().After(deadline) {
			t.Fatalf("first command: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var busy error
	for range serialQueue + 2 {
		if _, err := b.Apply(ctx, "uno.reset", nil, "t"); err != nil {
			busy = err
			break
		}
	}
	if !errors.Is(busy, ErrBusy) {
		t.Fatalf("a full queue gave %v, want ErrBusy", busy)
	}
	close(port.release) // the device takes the lines again
	deadline = time.Now().Add(10 * time.Second)
	for b.Stats().SerialWrites < serialQueue {
		if time.Now().After(deadline) {
			t.Fatalf("only %d writes after the release", b.Stats().SerialWrites)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSerialCommandValues is finding 10: a command value must not add or
// split a line on the device, whatever line separator it carries (C0 and
// C1 controls, U+0085 NEL, U+2028, U+2029, escape sequences, invalid
// UTF-8). Commands are also rate-limited per device.
func TestSerialCommandValues(t *testing.T) {
	master, tty := openPTY(t)
	b, m := newTest(t, serialConfig(tty, "kv"), newFakeHost(), Options{})
	// The port is open and set up once a line from the device arrives.
	deadline := time.Now().Add(10 * time.Second)
	for up := false; !up; {
		if time.Now().After(deadline) {
			t.Fatal("the bridge did not read the device within 10s")
		}
		master.Write([]byte("m=1\n"))
		select {
		case f := <-m.ch:
			up = f["msg_type"] == "metrics"
		case <-time.After(100 * time.Millisecond):
		}
	}
	rd := bufio.NewReader(master)
	lines := make(chan string, 64)
	go func() {
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			lines <- strings.TrimRight(l, "\r\n")
		}
	}()
	ctx := context.Background()
	if _, err := b.Apply(ctx, "uno.beep", "a\u0085b\u2028c\u2029d\x1b[2Je\x00f\rg\x7fh\x9bi\xffj", "t"); err != nil {
		t.Fatalf("beep: %v", err)
	}
	select {
	case l := <-lines:
		if want := "BEEP abcd[2Jefghij"; l != want {
			t.Fatalf("device got %q, want %q", l, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("device got nothing")
	}

	// Rate: actuation_rate (default 5/s) commands a second per device.
	start := time.Now()
	ok, limited := 0, 0
	for range 40 {
		_, err := b.Apply(ctx, "uno.reset", nil, "t")
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrRateLimited):
			limited++
		default:
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start).Seconds()
	if limited == 0 || float64(ok) > 5+5*elapsed+1 {
		t.Fatalf("40 commands in %.2fs: %d written, %d rate-limited; want at most %.0f written", elapsed, ok, limited, 5+5*elapsed+1)
	}
	if got := b.Stats().RateLimited; got < uint64(limited) {
		t.Errorf("RateLimited = %d, want >= %d", got, limited)
	}
	for range ok {
		select {
		case l := <-lines:
			if l != "RST" {
				t.Fatalf("device got %q", l)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a written command did not arrive")
		}
	}
}

// FuzzSerialValue: no value yields a line break or a control character.
func FuzzSerialValue(f *testing.F) {
	for _, s := range []string{"3\nRST", "a\u0085b", "\u2028\u2029", "\x1b[2J", "\xff\xfe", "ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := serialValue(s)
		for _, r := range out {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
				t.Fatalf("serialValue(%q) = %q keeps %U", s, out, r)
			}
		}
		if !utf8.ValidString(out) {
			t.Fatalf("serialValue(%q) = %q is not valid UTF-8", s, out)
		}
	})
}

package hil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Sensor is an emulated I²C device added with -device.
type Sensor struct {
	Type    string // QEMU device type, e.g. "tmp105"
	Bus     int    // guest /dev/i2c-N
	Address uint16
	ID      string // QOM id: /machine/peripheral/<ID>
}

// Options describe one guest boot.
type Options struct {
	QEMU    string // default "qemu-system-arm"
	Kernel  string // zImage
	DTB     string // aspeed-ast2600-evb.dtb
	Initrd  string // cpio newc
	Append  string // extra kernel command line
	MAC     string // MAC of the user-mode NIC (the guest's init looks for it)
	Forward int    // guest TCP port forwarded to 127.0.0.1:HostPort
	// HostPort is the loopback port; 0 picks a free one.
	HostPort int
	Sensors  []Sensor
	// Dir holds the QMP socket (keep it short: unix socket paths are
	// limited to 107 bytes).
	Dir string
	// ConsoleLog is where the serial console is copied (default Dir/console.log).
	ConsoleLog string
	Logger     *slog.Logger
}

// Machine is a running QEMU ast2600-evb guest.
type Machine struct {
	// HostPort is the loopback port forwarded to the guest's Options.Forward.
	HostPort int
	// QMPPath is the QMP unix socket.
	QMPPath string
	// ConsolePath is the file the serial console is copied to.
	ConsolePath string

	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   *slog.Logger

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every console line
	exited  chan struct{}
	waitErr error
}

// Start boots the guest. The process gets SIGKILL if the test binary dies;
// Close always kills it.
func Start(ctx context.Context, o Options) (*Machine, error) {
	if o.QEMU == "" {
		o.QEMU = "qemu-system-arm"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.ConsoleLog == "" {
		o.ConsoleLog = filepath.Join(o.Dir, "console.log")
	}
	port := o.HostPort
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	m := &Machine{
		HostPort:    port,
		QMPPath:     filepath.Join(o.Dir, "qmp.sock"),
		ConsolePath: o.ConsoleLog,
		log:         o.Logger,
		changed:     make(chan struct{}),
		exited:      make(chan struct{}),
	}
	args := []string{
		"-M", "ast2600-evb", "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", o.Kernel, "-dtb", o.DTB, "-initrd", o.Initrd,
		"-append", strings.TrimSpace("console=ttyS4,115200 quiet panic=1 " + o.Append),
		"-nic", fmt.Sprintf("user,model=ftgmac100,mac=%s,hostfwd=tcp:127.0.0.1:%d-:%d", o.MAC, port, o.Forward),
		"-qmp", "unix:" + m.QMPPath + ",server=on,wait=off",
	}
	for _, s := range o.Sensors {
		args = append(args, "-device", fmt.Sprintf("%s,bus=%s,address=%#x,id=%s", s.Type, I2CBus(s.Bus), s.Address, s.ID))
	}
	logf, err := os.Create(m.ConsolePath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.QEMU, args...)
	setPdeathsig(cmd)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if m.stdin, err = cmd.StdinPipe(); err != nil {
		logf.Close()
		return nil, err
	}
	m.log.Info("starting qemu", "args", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", o.QEMU, err)
	}
	m.cmd = cmd
	go m.readConsole(out, logf)
	return m, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (m *Machine) readConsole(r io.Reader, logf *os.File) {
	defer logf.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		fmt.Fprintln(logf, line)
		m.mu.Lock()
		m.lines = append(m.lines, line)
		close(m.changed)
		m.changed = make(chan struct{})
		m.mu.Unlock()
	}
	err := m.cmd.Wait()
	m.mu.Lock()
	m.waitErr = err
	m.mu.Unlock()
	close(m.exited)
}

// errExited is returned by waits when QEMU is gone.
var errExited = errors.New("qemu exited")

// WaitConsole waits for a console line containing marker, looking at lines
// from index from on, and returns the line and its index.
func (m *Machine) WaitConsole(ctx context.Context, marker string, from int) (string, int, error) {
	for {
		m.mu.Lock()
		for i := from; i < len(m.lines); i++ {
			if strings.Contains(m.lines[i], marker) {
				l := m.lines[i]
				m.mu.Unlock()
				return l, i, nil
			}
		}
		from = len(m.lines)
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-m.exited:
			return "", 0, fmt.Errorf("waiting for %q: %w (%v)", marker, errExited, m.waitErr)
		case <-ctx.Done():
			return "", 0, fmt.Errorf("waiting for %q on the console: %w", marker, ctx.Err())
		}
	}
}

// Seen returns the first console line containing marker, if any.
func (m *Machine) Seen(marker string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.lines {
		if strings.Contains(l, marker) {
			return l, true
		}
	}
	return "", false
}

// Lines returns the number of console lines seen so far.
func (m *Machine) Lines() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.lines)
}

// Tail returns the last n console lines.
func (m *Machine) Tail(n int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := max(len(m.lines)-n, 0)
	return strings.Join(m.lines[i:], "\n")
}

// Exited is closed when QEMU has exited.
func (m *Machine) Exited() <-chan struct{} { return m.exited }

// Console types one line into the guest's serial console (its shell).
func (m *Machine) Console(line string) error {
	_, err := io.WriteString(m.stdin, line+"\n")
	return err
}

// Close kills QEMU and waits for it.
func (m *Machine) Close() error {
	if m.cmd == nil || m.cmd.Process == nil {
		return nil
	}
	_ = m.cmd.Process.Kill()
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		return errors.New("qemu did not exit after SIGKILL")
	}
	return nil
}

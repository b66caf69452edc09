package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Notifier sends notifications to the service manager. The zero value and a
// nil *Notifier are disabled (every call returns nil).
type Notifier struct {
	addr     *net.UnixAddr // nil = disabled
	watchdog time.Duration // WATCHDOG_USEC, 0 = no watchdog
	logger   *slog.Logger

	mu   sync.Mutex // serialises writes on conn
	conn *net.UnixConn
}

// FromEnv builds a Notifier from NOTIFY_SOCKET, WATCHDOG_USEC and
// WATCHDOG_PID as systemd sets them; pid is the caller's process id
// (os.Getpid()), used to ignore a watchdog meant for another process. A
// malformed WATCHDOG_USEC disables the watchdog and is logged.
func FromEnv(getenv func(string) string, pid int, logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sock := getenv("NOTIFY_SOCKET")
	if sock == "" {
		return &Notifier{logger: logger}
	}
	var wd time.Duration
	if us := getenv("WATCHDOG_USEC"); us != "" {
		wpid := getenv("WATCHDOG_PID")
		if wpid == "" || wpid == strconv.Itoa(pid) {
			d, err := parseUsec(us)
			if err != nil {
				logger.Warn("sdnotify: ignoring watchdog", "err", err)
			} else {
				wd = d
			}
		}
	}
	return New(sock, wd, logger)
}

// New returns a Notifier for the socket path (a leading "@" names an
// abstract socket) with the given watchdog interval (0 = none).
func New(socket string, watchdog time.Duration, logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{watchdog: watchdog, logger: logger}
	if socket == "" {
		return n
	}
	name := socket
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	n.addr = &net.UnixAddr{Name: name, Net: "unixgram"}
	return n
}

func parseUsec(s string) (time.Duration, error) {
	v, err := strconv.ParseUint(s, 10, 63)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC %q: not a positive integer", s)
	}
	return time.Duration(v) * time.Microsecond, nil
}

// Enabled reports whether a service manager listens (NOTIFY_SOCKET was set).
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// WatchdogInterval is how often Watchdog sends keep-alives: half of
// WATCHDOG_USEC, or 0 when systemd expects none.
func (n *Notifier) WatchdogInterval() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog / 2
}

// Notify sends the state lines (e.g. "READY=1", "STATUS=serving") in one
// datagram. ctx bounds the write.
func (n *Notifier) Notify(ctx context.Context, state ...string) error {
	if !n.Enabled() || len(state) == 0 {
		return nil
	}
	msg := strings.Join(state, "\n")
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		c, err := net.DialUnix("unixgram", nil, n.addr)
		if err != nil {
			return fmt.Errorf("sdnotify: dial %s: %w", n.addr.Name, err)
		}
		n.conn = c
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = n.conn.SetWriteDeadline(dl)
	} else {
		_ = n.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	}
	if _, err := n.conn.Write([]byte(msg)); err != nil {
		// The manager may have been restarted: redial on the next call.
		_ = n.conn.Close()
		n.conn = nil
		return fmt.Errorf("sdnotify: send: %w", err)
	}
	return nil
}

// Ready tells systemd the service is up (Type=notify), with a status line.
func (n *Notifier) Ready(ctx context.Context, status string) error {
	if status == "" {
		return n.Notify(ctx, "READY=1")
	}
	return n.Notify(ctx, "READY=1", "STATUS="+oneLine(status))
}

// Status sets the free-form status shown by systemctl status.
func (n *Notifier) Status(ctx context.Context, status string) error {
	return n.Notify(ctx, "STATUS="+oneLine(status))
}

// Stopping tells systemd a deliberate shutdown has begun.
func (n *Notifier) Stopping(ctx context.Context, status string) error {
	if status == "" {
		return n.Notify(ctx, "STOPPING=1")
	}
	return n.Notify(ctx, "STOPPING=1", "STATUS="+oneLine(status))
}

// Close releases the socket. Safe to call more than once.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	err := n.conn.Close()
	n.conn = nil
	return err
}

// Watchdog sends WATCHDOG=1 every WatchdogInterval until ctx is done. Before
// each keep-alive it calls healthy (nil = always healthy); while healthy
// returns an error no keep-alive is sent, the error is logged and reported
// as STATUS=, so systemd kills and restarts a wedged process after
// WatchdogSec. It returns nil at once when no watchdog is expected, and
// ctx's error when ctx ends.
func (n *Notifier) Watchdog(ctx context.Context, healthy func(context.Context) error) error {
	iv := n.WatchdogInterval()
	if iv <= 0 {
		return nil
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	sick := false
	for {
		if err := n.keepAlive(ctx, healthy, &sick); err != nil {
			n.logger.Warn("sdnotify: keep-alive", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (n *Notifier) keepAlive(ctx context.Context, healthy func(context.Context) error, sick *bool) error {
	if healthy != nil {
		hctx, cancel := context.WithTimeout(ctx, n.WatchdogInterval())
		err := healthy(hctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			*sick = true
			n.logger.Error("sdnotify: unhealthy, withholding watchdog keep-alive", "err", err)
			return errors.Join(err, n.Status(ctx, "unhealthy: "+err.Error()))
		}
		if *sick {
			*sick = false
			n.logger.Info("sdnotify: healthy again")
		}
	}
	return n.Notify(ctx, "WATCHDOG=1")
}

func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

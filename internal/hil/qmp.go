package hil

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// QMP is a minimal client of QEMU's machine protocol on a unix socket: one
// command at a time, asynchronous events skipped.
type QMP struct {
	mu   sync.Mutex
	conn net.Conn
	dec  *json.Decoder
}

// QMPError is an {"error":{"class","desc"}} answer.
type QMPError struct {
	Command string
	Class   string
	Desc    string
}

func (e *QMPError) Error() string {
	return fmt.Sprintf("qmp %s: %s: %s", e.Command, e.Class, e.Desc)
}

// DialQMP connects to path (retrying until QEMU has created it or ctx ends),
// reads the greeting and leaves capabilities negotiation mode.
func DialQMP(ctx context.Context, path string) (*QMP, error) {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			q := &QMP{conn: c, dec: json.NewDecoder(bufio.NewReader(c))}
			if err := q.handshake(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return q, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp dial %s: %w (last: %v)", path, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (q *QMP) handshake(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deadline(ctx)
	var greet struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := q.dec.Decode(&greet); err != nil || greet.QMP == nil {
		return fmt.Errorf("qmp greeting: %v", err)
	}
	_, err := q.execLocked("qmp_capabilities", nil)
	return err
}

func (q *QMP) deadline(ctx context.Context) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(10 * time.Second)
	}
	_ = q.conn.SetDeadline(dl)
}

// Execute runs one command and returns its "return" value.
func (q *QMP) Execute(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deadline(ctx)
	return q.execLocked(cmd, args)
}

func (q *QMP) execLocked(cmd string, args any) (json.RawMessage, error) {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := q.conn.Write(b); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := q.dec.Decode(&resp); err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		switch {
		case resp.Event != "":
			continue
		case resp.Error != nil:
			return nil, &QMPError{Command: cmd, Class: resp.Error.Class, Desc: resp.Error.Desc}
		case resp.Return != nil:
			return resp.Return, nil
		}
		return nil, errors.New("qmp " + cmd + ": answer without return or error")
	}
}

// QOMGetBool reads a boolean property (e.g. a GPIO line level).
func (q *QMP) QOMGetBool(ctx context.Context, path, prop string) (bool, error) {
	r, err := q.Execute(ctx, "qom-get", map[string]any{"path": path, "property": prop})
	if err != nil {
		return false, err
	}
	var v bool
	if err := json.Unmarshal(r, &v); err != nil {
		return false, fmt.Errorf("qom-get %s %s: not a bool: %s", path, prop, r)
	}
	return v, nil
}

// QOMSet writes a property (a GPIO input level, a sensor temperature).
func (q *QMP) QOMSet(ctx context.Context, path, prop string, value any) error {
	_, err := q.Execute(ctx, "qom-set", map[string]any{"path": path, "property": prop, "value": value})
	return err
}

// HMP runs a human monitor command and returns its text output.
func (q *QMP) HMP(ctx context.Context, cmdline string) (string, error) {
	r, err := q.Execute(ctx, "human-monitor-command", map[string]any{"command-line": cmdline})
	if err != nil {
		return "", err
	}
	var out string
	if err := json.Unmarshal(r, &out); err != nil {
		return "", fmt.Errorf("hmp %q: %w", cmdline, err)
	}
	return out, nil
}

// ReadPhys32 reads one 32-bit word of guest physical memory or MMIO (the
// monitor's xp), e.g. a device register.
func (q *QMP) ReadPhys32(ctx context.Context, addr uint64) (uint32, error) {
	out, err := q.HMP(ctx, fmt.Sprintf("xp /1wx %#x", addr))
	if err != nil {
		return 0, err
	}
	_, val, ok := strings.Cut(out, ":")
	if !ok {
		return 0, fmt.Errorf("xp %#x: unexpected output %q", addr, out)
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(val), "0x"), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("xp %#x: unexpected output %q", addr, out)
	}
	return uint32(v), nil
}

// Close closes the socket.
func (q *QMP) Close() error { return q.conn.Close() }

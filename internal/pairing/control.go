package pairing

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// The control socket: how `sudo meshbox pair|qr|tokens` talks to the
// running box. It is a unix socket at <state dir>/control/meshbox.sock; the
// control directory is 0700 and the socket 0600, both owned by the service
// user, so only that user and root can connect. One request (a JSON line,
// at most MaxRequestBytes) and one response (a JSON line) per connection.
const (
	controlDir  = "control"
	controlSock = "meshbox.sock"
	ioTimeout   = 10 * time.Second
)

// ControlPath is the control socket's path inside the state directory.
func ControlPath(stateDir string) string {
	return filepath.Join(stateDir, controlDir, controlSock)
}

// ServeControl serves the control socket until ctx ends, answering each
// request with do. It removes a stale socket left by a killed process.
func ServeControl(ctx context.Context, stateDir string, do func(Request) Response, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(stateDir, controlDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if st, err := os.Lstat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("control socket: %s is not a directory", dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	path := ControlPath(stateDir)
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path) // left by a killed process
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	log.Debug("control socket listening", "path", path)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		}
		ln.Close()
	}()
	defer func() {
		close(stop)
		wg.Wait()
		_ = os.Remove(path)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveControlConn(c, do, log)
		}()
	}
}

func serveControlConn(c net.Conn, do func(Request) Response, log *slog.Logger) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	line, err := bufio.NewReaderSize(io.LimitReader(c, MaxRequestBytes+1), MaxRequestBytes+1).ReadBytes('\n')
	var resp Response
	if err != nil && !errors.Is(err, io.EOF) {
		resp = Response{Error: "read: " + err.Error()}
	} else if req, perr := ParseRequest(line); perr != nil {
		resp = Response{Error: perr.Error()}
	} else {
		resp = do(req)
	}
	b, _ := json.Marshal(resp)
	if _, err := c.Write(append(b, '\n')); err != nil {
		log.Debug("control socket: write", "err", err)
	}
}

// CallControl sends req to the box serving stateDir's control socket.
func CallControl(ctx context.Context, stateDir string, req Request) (Response, error) {
	var resp Response
	path := ControlPath(stateDir)
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrPermission):
			return resp, fmt.Errorf("%s: %w (run it as root: sudo meshbox …)", path, err)
		case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED):
			return resp, fmt.Errorf("%s: %w (is meshbox running with this state directory?)", path, err)
		}
		return resp, err
	}
	defer c.Close()
	dl := time.Now().Add(ioTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.SetDeadline(dl)
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return resp, err
	}
	line, err := bufio.NewReader(io.LimitReader(c, 1<<20)).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return resp, err
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return resp, fmt.Errorf("control socket: bad response: %w", err)
	}
	if !resp.OK {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

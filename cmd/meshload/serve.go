package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/meshbox/meshbox/internal/relay"
)

// serveChild is `meshload -serve meshbox|minimal`: a relay in its own
// process, so the load generator never shares a CPU budget or heap with it.
// It prints "ready ws://ADDR/" and serves until its standard input closes.
// With -cpuprofile/-memprofile it writes profiles of the relay at exit.
func serveChild(ctx context.Context, o options, stdin io.Reader, stdout io.Writer) error {
	var h http.Handler
	var closeRelay func()
	switch o.serve {
	case "meshbox":
		cfg := relay.DefaultConfig()
		cfg.RateLimit = -1 // the load publisher sends far more than 50 frames/s
		cfg.MaxPendingPerIP = -1
		cfg.MaxConnections = -1
		cfg.AuthToken = o.token
		srv := relay.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
		h = srv
		closeRelay = func() {
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Close(c)
		}
	case "minimal":
		h, closeRelay = newMinimalRelay(), func() {}
	default:
		return fmt.Errorf("-serve %q: want meshbox or minimal", o.serve)
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "ready ws://%s/ pid %d\n", ln.Addr(), os.Getpid())
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	go func() { // SIGUSR1: print the memory breakdown (and write -memprofile) now
		for range usr1 {
			for range 4 { // stacks shrink by half per GC at most
				runtime.GC()
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			sm := []metrics.Sample{{Name: "/gc/scan/stack:bytes"}}
			metrics.Read(sm)
			fmt.Fprintf(os.Stderr, "relay child: heap in use %.1f MB, stacks %.1f MB (%.1f MB used at the last GC), goroutines %d, sys %.1f MB\n",
				float64(ms.HeapInuse)/1e6, float64(ms.StackInuse)/1e6, float64(sm[0].Value.Uint64())/1e6, runtime.NumGoroutine(), float64(ms.Sys)/1e6)
			if o.memprofile != "" {
				if f, err := os.Create(o.memprofile); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}
	}()
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stdin); close(eof) }()
	select {
	case <-eof:
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	closeRelay()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(c)
	return nil
}

// child is a relay process started by -compare (or -spawn).
type child struct {
	url string
	pid int
	cmd *exec.Cmd
	in  io.WriteCloser
}

// spawn starts `meshload -serve kind` and waits for its ready line.
func spawn(kind, token string, extra ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := append([]string{"-serve", kind, "-listen", "127.0.0.1:0", "-token", token}, extra...)
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	var url string
	var pid int
	if err == nil {
		_, err = fmt.Sscanf(strings.TrimSpace(line), "ready %s pid %d", &url, &pid)
	}
	if err != nil {
		in.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("relay child %s: %v (got %q)", kind, err, line)
	}
	return &child{url: url, pid: pid, cmd: cmd, in: in}, nil
}

// stop closes the child's standard input and waits for it to exit.
func (c *child) stop() error {
	c.in.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
		return errors.New("relay child did not exit; killed")
	}
}

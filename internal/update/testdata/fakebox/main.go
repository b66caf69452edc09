// Command fakebox is a miniature meshbox used by the update tests: it
// starts through update.Start, serves /healthz and POST /update, confirms
// itself healthy and exits like meshbox does (0 on SIGTERM, 3 after an
// update, 1 on failure). -ldflags "-X main.version=V -X main.broken=MODE"
// builds the variants (-X main.marker=FILE: create FILE whenever run): MODE "crash" exits 1 right after start-up,
// "unhealthy" serves a failing /healthz, "hang" never answers "version".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/meshbox/meshbox/internal/update"
)

var (
	version = "dev"
	broken  = ""
	// marker, when stamped, is a file this binary creates whenever it
	// runs at all (tests: proof that a refused upload never ran).
	marker = ""
)

func main() { os.Exit(run()) }

func run() int {
	if marker != "" {
		_ = os.WriteFile(marker, []byte(fmt.Sprintln("ran as uid", os.Getuid(), os.Args)), 0o644)
	}
	if len(os.Args) > 1 && os.Args[1] == "version" {
		if broken == "hang" {
			time.Sleep(time.Minute)
		}
		fmt.Println("meshbox", version)
		return 0
	}
	fs := flag.NewFlagSet("fakebox", flag.ContinueOnError)
	state := fs.String("state", "", "state dir")
	listen := fs.String("listen", "127.0.0.1:0", "address")
	token := fs.String("token", "secret", "bearer token")
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("version", version, "pid", os.Getpid())
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithCancelCause(sigCtx)
	defer cancel(nil)

	u := &update.Updater{Layout: update.Layout{StateDir: *state}, Version: version, Logger: logger,
		VerifyTimeout: 5 * time.Second}
	if rb, err := u.Start(ctx, os.Args, os.Environ()); err != nil {
		logger.Error("start", "err", err)
		return 1
	} else if rb != nil {
		logger.Warn("rolled back", "from", rb.Version, "reason", rb.Reason)
	}
	if broken == "crash" {
		logger.Error("crashing on purpose")
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logger.Error("listen", "err", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if broken == "unhealthy" {
			http.Error(w, "bridge stuck", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "meshbox", version)
	})
	mux.Handle("/update", update.Handler(update.HandlerOptions{
		Updater: u, Authorize: update.BearerAuthorizer(func() string { return *token }), Logger: logger,
		Restart: func() { cancel(update.ErrRestart) },
	}))
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("serving", "addr", ln.Addr().String())

	self, _ := os.Executable()
	healthURL := "http://" + ln.Addr().String() + "/healthz"
	go func() {
		err := u.Confirm(ctx, self, 150*time.Millisecond, 2*time.Second, func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, healthURL, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusOK {
				return errors.New(resp.Status)
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			logger.Error("health", "err", err)
			cancel(err)
		}
	}()

	<-ctx.Done()
	shutCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shutCtx)
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, update.ErrRestart):
		logger.Info("restarting for update")
		return update.ExitCodeRestart
	case sigCtx.Err() != nil:
		logger.Info("stopped")
		return 0
	default:
		logger.Error("exit", "err", cause)
		return 1
	}
}

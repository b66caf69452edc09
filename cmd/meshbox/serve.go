package main

// serve: the meshbox process — config → relay → (bridge, page, …) → one HTTP
// port. Owned by the relay engineer; the bridge, page and appliance hooks
// plug in at the two marked places (routes and components).

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
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/meshbox/meshbox/board"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/update"
)

// shutdownTimeout bounds the graceful stop (relay 1001 closes + HTTP).
const shutdownTimeout = 5 * time.Second

// serveOptions are the serve command line.
type serveOptions struct {
	listen     string
	listenSet  bool // -listen given explicitly (wins over the config file)
	configPath string
	sim        bool
	open       bool
}

// box is one running meshbox: everything serve builds, shared by the
// components that plug into it.
type box struct {
	env  *Env
	log  *slog.Logger
	opts serveOptions

	cfg      *config.Config // loaded or built-in demo config
	stateDir string         // writable state directory (token, restore states, pairing)
	ln       net.Listener   // bound before the hardware is opened; served by run

	token       string // shared key; "" = open relay
	tokenSource string // where the token came from (for logs; never the token)

	relay *relay.Server
	mux   *http.ServeMux // plain HTTP (GET / …); WebSocket upgrades go to relay

	// components run alongside the HTTP server until the context ends.
	components []component

	hw *hardware // the hardware bridge (serve_bridge.go); nil until addComponents

	updater *update.Updater // LAN updates (serve_systemd.go)
	restart func()          // stop serving and exit update.ExitCodeRestart
	fail    func(error)     // stop serving and exit non-zero (systemd restarts)
}

// component is a long-running part of the box (the bridge, sd_notify, …).
// run must return when ctx is done; an error stops the whole box.
type component struct {
	name string
	run  func(ctx context.Context) error
}

func serveCmd(ctx context.Context, env *Env, args []string) error {
	return serve(ctx, env, args, nil)
}

// serveFlagSet declares the serve flags into o (also printed by usage).
func serveFlagSet(o *serveOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("meshbox serve", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", config.DefaultListen, "`address` (HOST:PORT) to serve WebSocket and HTTP on")
	fs.StringVar(&o.configPath, "config", "", "config `file` (default "+config.DefaultPath+" when present, else the built-in demo)")
	fs.BoolVar(&o.sim, "sim", false, "use simulated hardware (populated from the config's devices)")
	fs.BoolVar(&o.open, "open", false, "run the relay without authentication (LAN open mode; warned)")
	return fs
}

func parseServeFlags(env *Env, args []string) (serveOptions, error) {
	var o serveOptions
	fs := serveFlagSet(&o)
	// The flag package would print the error and the usage itself; the
	// error is returned (printed once by main) and -h prints the full help.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(env.Stdout, subcommands())
			return o, flag.ErrHelp
		}
		return o, usageError(err.Error() + " (meshbox -h for help)")
	}
	if fs.NArg() > 0 {
		return o, usageError(fmt.Sprintf("unexpected argument %q (meshbox help lists the commands)", fs.Arg(0)))
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "listen" {
			o.listenSet = true
		}
	})
	if err := checkListen(o.listen); err != nil {
		return o, usageError("-listen: " + err.Error())
	}
	return o, nil
}

// checkListen checks the form of a listen address: HOST:PORT with an
// empty, IP or name host and a numeric port 0..65535.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (e.g. \":8765\" or \"127.0.0.1:8765\")", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number 0..65535", addr, port)
	}
	return nil
}

// serve runs the box until ctx is done. ln, when not nil, is used instead of
// listening on the configured address (tests).
func serve(ctx context.Context, env *Env, args []string, ln net.Listener) error {
	opts, err := parseServeFlags(env, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	// A cancel cause tells how serving ended: the caller's ctx (a signal:
	// exit 0), update.ErrRestart (exit 3) or a failure (exit 1).
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b := &box{
		env:  env,
		opts: opts,
		log:  slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: logLevel(env.Getenv)})),
		mux:  http.NewServeMux(),
	}
	b.restart = func() { cancel(update.ErrRestart) }
	b.fail = func(err error) { cancel(err) }
	if err := b.loadConfig(); err != nil {
		return err
	}
	b.stateDir = b.resolveStateDir()
	if err := b.startUpdater(ctx); err != nil { // may exec an installed update (serve_systemd.go)
		return err
	}
	if err := b.resolveToken(); err != nil {
		return err
	}
	rcfg := b.cfg.Relay
	if err := rcfg.ApplyEnv(env.Getenv); err != nil {
		return fmt.Errorf("relay settings: %w", err)
	}
	rcfg.AuthToken = b.token
	// Bind before the hardware is touched: a port in use or a bad address
	// fails here, with every output untouched. Nothing is served (no
	// WebSocket client is accepted) until run, after the boot states.
	if ln == nil {
		addr := b.listenAddr()
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("cannot listen on %s: %w (hardware left untouched; choose another -listen)", addr, err)
		}
	}
	defer ln.Close()
	b.ln = ln
	b.relay = relay.New(rcfg, b.log)

	b.routes()
	defer b.closeBridge() // bridge: exit states on return and on panic (serve_bridge.go)
	if err := b.addComponents(ctx); err != nil {
		return err
	}
	if err := b.run(ctx, ln); err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// loadConfig reads -config, else the default file when present, else the
// built-in demo (simulated board).
func (b *box) loadConfig() error {
	path := b.opts.configPath
	if path == "" {
		if _, err := os.Stat(config.DefaultPath); err == nil {
			path = config.DefaultPath
		}
	}
	if path == "" {
		b.cfg = config.Demo()
		b.log.Info("no config file, using the built-in demo config", "hint", "meshbox -config FILE")
	} else {
		// board: auto resolves pins against the board this runs on.
		detected, _ := board.DetectFS(os.ReadFile)
		cfg, err := config.LoadFor(path, detected)
		if err != nil {
			return err
		}
		b.cfg = cfg
		b.log.Info("config loaded", "path", path)
	}
	return nil
}

// listenAddr is -listen when given, else the config's listen, else :8765.
// Once bound, a port 0 ("pick one") reads as the port the system chose.
func (b *box) listenAddr() string {
	addr := b.cfg.Listen
	if b.opts.listenSet || addr == "" {
		addr = b.opts.listen
	}
	if b.ln == nil {
		return addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr
	}
	if ta, ok := b.ln.Addr().(*net.TCPAddr); ok {
		return net.JoinHostPort(host, strconv.Itoa(ta.Port))
	}
	return addr
}

// routes registers the plain-HTTP handlers.
//
// HOOK: the page, /metrics, pairing endpoints … register here on b.mux.
func (b *box) routes() {
	// The page (GET /, /layout.json, /pairing.png, /healthz, /metrics) is
	// registered by addPage (serve_page.go), once the bridge exists.
}

// addComponents creates the long-running parts that join the relay.
//
// HOOK: the bridge (b.relay.Pipe, b.cfg, b.opts.sim), sd_notify, mDNS …
// append themselves to b.components here.
func (b *box) addComponents(ctx context.Context) error {
	if err := b.addBridge(ctx); err != nil { // boot states before listening (serve_bridge.go)
		return err
	}
	if err := b.addLinks(); err != nil { // mqtt: and upstream: (serve_upstream.go)
		return err
	}
	if err := b.addPage(ctx); err != nil { // page, pairing, layout push, mDNS (serve_page.go)
		return err
	}
	b.addSystemd() // sd_notify, watchdog, POST /update (serve_systemd.go)
	return nil
}

// handler sends WebSocket upgrades (any path) to the relay, the rest to mux.
func (b *box) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			b.relay.ServeHTTP(w, b.relayRequest(r)) // the page's own origin (serve_page.go)
			return
		}
		b.mux.ServeHTTP(w, r)
	})
}

// run serves until ctx is done or a component fails, then stops gracefully:
// every WebSocket is closed with 1001 and the HTTP server is shut down.
func (b *box) run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           b.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
	}
	b.log.Info("meshbox serving", "version", version, "listen", ln.Addr().String(),
		"auth", b.authMode(), "token_source", b.tokenSource, "state_dir", b.stateDir, "hardware", b.hardwareDesc())

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1+len(b.components))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	var wg sync.WaitGroup
	for _, c := range b.components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.run(cctx); err != nil && cctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", c.name, err)
			}
		}()
	}

	var failure error
	select {
	case <-ctx.Done():
		b.log.Info("shutting down")
	case failure = <-errc:
		b.log.Error("stopping", "err", failure)
	}
	sctx, scancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer scancel()
	var rerr, herr error
	var sw sync.WaitGroup
	sw.Add(2)
	go func() { defer sw.Done(); rerr = b.relay.Close(sctx) }()
	go func() { defer sw.Done(); herr = srv.Shutdown(sctx) }()
	sw.Wait()
	cancel()
	wg.Wait()
	if rerr != nil || herr != nil {
		b.log.Warn("unclean shutdown", "relay", rerr, "http", herr)
	}
	b.log.Info("stopped", "stats", fmt.Sprintf("%+v", b.relay.Stats()))
	return failure
}

func (b *box) authMode() string {
	if b.token == "" {
		return "none"
	}
	return "token"
}

// logLevel reads MESHBOX_LOG_LEVEL (debug, info, warn, error; default info).
func logLevel(getenv func(string) string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(getenv("MESHBOX_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

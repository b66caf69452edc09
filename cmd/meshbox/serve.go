package main

// serve: the meshbox process — flags, environment, config, state directory,
// token, listener; internal/box assembles the relay, the bridge and the
// components behind one HTTP port.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/meshbox/meshbox/board"
	"github.com/meshbox/meshbox/internal/admin"
	"github.com/meshbox/meshbox/internal/box"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/statedir"
	"github.com/meshbox/meshbox/internal/update"
)

// serveOptions are the serve command line.
type serveOptions struct {
	listen     string
	listenSet  bool // -listen given explicitly (wins over the config file)
	configPath string
	sim        bool
	open       bool
}

// serveHooks are what tests hand serve: a bound listener and the simulated
// board they inspect (nil: serve binds and picks the hardware itself).
type serveHooks struct {
	ln    net.Listener
	board *simhost.Board
}

func serveCmd(ctx context.Context, env *Env, args []string) error {
	return serve(ctx, env, args, serveHooks{})
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

// serve runs the box until ctx is done: flags, config, state directory,
// an installed update (exec'd), token, relay limits from the environment
// and the listener are resolved here; internal/box assembles and runs the
// rest.
func serve(ctx context.Context, env *Env, args []string, hooks serveHooks) error {
	opts, err := parseServeFlags(env, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: logLevel(env.Getenv)}))
	cfg, err := loadServeConfig(opts.configPath, log)
	if err != nil {
		return err
	}
	stateDir := statedir.Resolve(env.Getenv, cfg, log)
	updater := newUpdater(env.Getenv, stateDir, log)
	if err := startUpdater(ctx, env, updater, log); err != nil { // may exec an installed update
		return err
	}
	token, tokenSource, err := statedir.Token(env.Getenv, opts.open, cfg, stateDir, log)
	if err != nil {
		return err
	}
	rcfg := cfg.Relay
	if err := rcfg.ApplyEnv(env.Getenv); err != nil {
		return fmt.Errorf("relay settings: %w", err)
	}
	// Bind before the hardware is touched: a port in use or a bad address
	// fails here, with every output untouched. Nothing is served (no
	// WebSocket client is accepted) until Run, after the boot states.
	addr := cfg.Listen
	if opts.listenSet || addr == "" {
		addr = opts.listen
	}
	ln := hooks.ln
	if ln == nil {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("cannot listen on %s: %w (hardware left untouched; choose another -listen)", addr, err)
		}
	}
	defer ln.Close()
	cfg.Listen = addr
	bx, err := box.New(box.Options{
		Config: cfg, Logger: log, Listener: ln, StateDir: stateDir,
		Token: token, TokenSource: tokenSource, Relay: rcfg,
		Sim: opts.sim, Board: hooks.board, Version: version, Updater: updater,
		Getenv: env.Getenv, ConsoleQR: consoleQR(env),
	})
	if err != nil {
		return err
	}
	return bx.Run(ctx) // exit states on return and on a panic
}

// loadServeConfig reads path, else the default file when present, else
// the built-in demo (simulated board).
func loadServeConfig(path string, log *slog.Logger) (*config.Config, error) {
	if path == "" {
		if _, err := os.Stat(config.DefaultPath); err == nil {
			path = config.DefaultPath
		}
	}
	if path == "" {
		log.Info("no config file, using the built-in demo config", "hint", "meshbox -config FILE")
		return config.Demo(), nil
	}
	// board: auto resolves pins against the board this runs on.
	detected, _ := board.DetectFS(os.ReadFile)
	cfg, err := config.LoadFor(path, detected)
	if err != nil {
		return nil, err
	}
	log.Info("config loaded", "path", path)
	return cfg, nil
}

// newUpdater is the LAN updater of stateDir; MESHBOX_UPDATE_KEY (default
// update.DefaultKeyFile) names the key updates must be signed with.
func newUpdater(getenv func(string) string, stateDir string, log *slog.Logger) *update.Updater {
	keyFile := getenv("MESHBOX_UPDATE_KEY")
	if keyFile == "" {
		keyFile = update.DefaultKeyFile
	}
	u := &update.Updater{Layout: update.Layout{StateDir: stateDir}, Version: version,
		Logger: log.With("component", "update"), KeyFile: keyFile}
	switch pub, err := update.LoadPublicKey(keyFile); {
	case err == nil:
		log.Info("updates: only binaries signed with the update key are installed", "key_file", keyFile, "key_id", update.KeyID(pub))
	case errors.Is(err, os.ErrNotExist):
		log.Info("updates: no update key, so unsigned binaries are accepted from the owner (meshbox keygen; docs/security.md)", "key_file", keyFile)
	default:
		log.Error("updates: the update key cannot be read: every update is refused", "key_file", keyFile, "err", err)
	}
	return u
}

// startUpdater runs the start-up step of the updater: it execs an installed
// update (the process image is replaced) or rolls a failed one back.
func startUpdater(ctx context.Context, env *Env, u *update.Updater, log *slog.Logger) error {
	argv := append([]string{"meshbox"}, env.Args...)
	rb, err := u.Start(ctx, argv, os.Environ())
	if err != nil {
		return err
	}
	if rb != nil {
		log.Warn("update rolled back", "version", rb.Version, "reason", rb.Reason)
	}
	return nil
}

// consoleQR prints the pairing QR when stdout is a terminal; under a
// service manager stdout is a log, and the QR carries the token: nil makes
// the box log a hint instead.
func consoleQR(env *Env) func(pairing.Payload) {
	f, ok := env.Stdout.(*os.File)
	if !ok {
		return nil
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(p pairing.Payload) {
		if q, err := pairing.NewQR(p.JSON()); err == nil {
			admin.PrintPairing(env.Stdout, q, p, false)
		}
	}
}

// logLevel reads MESHBOX_LOG_LEVEL (debug, info, warn, error; default info).
func logLevel(getenv func(string) string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(getenv("MESHBOX_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

package box

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/httpserve"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/update"
)

// Defaults of Options.
const (
	// DefaultHealthGrace is how long the bridge may be off its relay
	// before /healthz and the watchdog say unhealthy.
	DefaultHealthGrace = 5 * time.Second
	// shutdownTimeout bounds the graceful stop of the relay and HTTP.
	shutdownTimeout = 5 * time.Second
	// joinTimeout bounds the wait for the bridge's first admission.
	joinTimeout = 5 * time.Second
)

// Options are what the box is made of. Config, Logger and Listener are
// required.
type Options struct {
	Config *config.Config // resolved configuration (config.Load / config.Demo)
	Logger *slog.Logger
	// Listener is bound by the caller (a port in use fails before any
	// output moves); Run serves it and closes it.
	Listener net.Listener
	// StateDir is the writable state directory (restore states, MQTT
	// discovery state, updates). "" keeps Config.StateDir.
	StateDir string
	// Token is the relay's shared key ("" = open relay); TokenSource says
	// where it came from, for the log (never the token).
	Token, TokenSource string
	// Relay is the relay configuration (limits with the environment
	// applied); its AuthToken is set from Token.
	Relay relay.Config
	// Sim selects the simulated board (-sim). Board, when set, is the
	// simulated board to use (tests inspect it); Host, when set, is the
	// hardware to drive. Without either, the box picks: the simulated
	// board with Sim, without a GPIO chip or without a config file, else
	// the Linux GPIO host.
	Sim   bool
	Board *simhost.Board
	Host  gpio.Host
	// Version is reported in the log and /metrics.
	Version string
	// Updater, when set, mounts POST /update and confirms a pending update
	// once the box is healthy; Restart is then how Run ends after an
	// installed update (update.ErrRestart).
	Updater *update.Updater
	// Getenv reads NOTIFY_SOCKET and WATCHDOG_USEC (systemd); nil: no
	// systemd notifications.
	Getenv func(string) string
	// ConsoleQR prints the pairing QR when the console is a terminal
	// (nil: a log line points at the page).
	ConsoleQR func(pairing.Payload)
	// HealthGrace: DefaultHealthGrace when 0.
	HealthGrace time.Duration
}

// Box is one assembled meshbox. New builds it, Run serves it.
type Box struct {
	// Immutable after New.
	opts     Options
	cfg      *config.Config // Config with the resolved state dir and listen address
	log      *slog.Logger
	relay    *relay.Server
	mux      *http.ServeMux
	hw       *hardware
	creds    *creds // credential store, pairing window and tokens (creds.go)
	ready    chan struct{}
	comps    []component
	runOnce  sync.Once
	closeHW  sync.Once
	failOnce sync.Once

	page    *pageState    // built by routes (New)
	room    *room         // the encrypted room (config e2ee: true); nil otherwise
	metrics *metricsState // built by New
	history *historyState // opened in New (nil: history disabled)

	// Set by the components at start (before any other component starts).
	member *bridge.Member // the bridge's membership in the embedded relay
	fail   func(error)    // stops Run with this error (cause)
}

// component is one part of the box. start sets it up and launches its
// goroutines; it returns the stop function that ends them and waits. A
// runtime failure is reported with Box.fail, which stops the box.
type component struct {
	name  string
	start func(ctx context.Context) (stop func(), err error)
}

// New opens the hardware, drives every output to its boot state and
// prepares the components; nothing is served until Run.
func New(opts Options) (*Box, error) {
	if opts.Config == nil || opts.Logger == nil || opts.Listener == nil {
		return nil, errors.New("box: Config, Logger and Listener are required")
	}
	if opts.HealthGrace <= 0 {
		opts.HealthGrace = DefaultHealthGrace
	}
	cfg := *opts.Config // shallow copy: state dir and listen address resolved below
	if opts.StateDir != "" {
		cfg.StateDir = opts.StateDir
	}
	cfg.Listen = listenAddr(cfg.Listen, opts.Listener)
	b := &Box{
		opts:  opts,
		cfg:   &cfg,
		log:   opts.Logger,
		mux:   http.NewServeMux(),
		ready: make(chan struct{}),
		fail:  func(error) {},
	}
	cr, err := openCreds(&cfg, opts.Token, b.log)
	if err != nil {
		return nil, err
	}
	b.creds = cr
	rcfg := opts.Relay
	rcfg.AuthToken = opts.Token
	rcfg.Credentials = cr.relayCredentials()
	b.relay = relay.New(rcfg, b.log)
	rm, err := openRoom(&cfg, opts.Token, b.log)
	if err != nil {
		return nil, err
	}
	b.room = rm
	hw, err := b.openHardware()
	if err != nil {
		return nil, err
	}
	b.hw = hw
	// Start order; Run stops them in reverse.
	b.comps = []component{
		{"sim-serial", b.startSimSerial},
		{"metrics", b.startMetrics}, // first: sees the first readings
		{"e2ee", b.startE2EE},
		{"bridge", b.startBridge},
		{"history", b.startHistory},
		{"automation", b.startAutomation},
		{"mqtt", b.startMQTT},
		{"upstream", b.startUpstream},
		{"page", b.startPage},
		{"creds", b.startCreds},
		{"systemd", b.startSystemd},
	}
	b.newMetrics()
	if err := b.routes(); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.openHistory(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// listenAddr is the address the box serves: addr with a port 0 ("pick
// one") replaced by the port ln is bound to.
func listenAddr(addr string, ln net.Listener) string {
	ta, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ln.Addr().String()
	}
	if port == "0" || port == "" {
		return net.JoinHostPort(host, strconv.Itoa(ta.Port))
	}
	return addr
}

// Config is the configuration the box runs (resolved state dir and listen
// address; read-only).
func (b *Box) Config() *config.Config { return b.cfg }

// Bridge is the hardware bridge.
func (b *Box) Bridge() *bridge.Bridge { return b.hw.bridge }

// Relay is the embedded relay.
func (b *Box) Relay() *relay.Server { return b.relay }

// Ready is closed once the bridge has joined the relay and the listener is
// being served.
func (b *Box) Ready() <-chan struct{} { return b.ready }

// Handler sends WebSocket upgrades (any path) to the relay, the rest to
// the box's routes (page, /layout.json, /healthz, /metrics, /update).
func (b *Box) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			b.relay.ServeHTTP(w, b.relayRequest(r))
			return
		}
		b.mux.ServeHTTP(w, r)
	})
}

// health is nil while the box is healthy: the bridge has not been off its
// relay for longer than HealthGrace.
func (b *Box) health() error {
	m := b.member
	if m == nil {
		return errors.New("the bridge has not joined the relay")
	}
	return m.Healthy(b.opts.HealthGrace)
}

// Run starts the components in order, serves the listener until ctx is
// done or a component fails, and stops everything in reverse order (exit
// states first). It returns nil after a stop by ctx, update.ErrRestart
// after an installed update, or the failure. Run may be called once.
func (b *Box) Run(ctx context.Context) (err error) {
	first := false
	b.runOnce.Do(func() { first = true })
	if !first {
		return errors.New("box: Run called twice")
	}
	defer b.Close()
	defer b.opts.Listener.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b.fail = func(err error) { b.failOnce.Do(func() { cancel(err) }) }

	var stops []func()
	stopAll := func() {
		// Exit states ahead of everything, then the components in reverse
		// order (links and the bridge's membership leave before the relay
		// closes: nothing redials while stopping).
		b.hw.bridge.Shutdown()
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	for _, c := range b.comps {
		stop, err := c.start(ctx)
		if err != nil {
			stopAll()
			b.closeRelay()
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if stop != nil {
			stops = append(stops, stop)
		}
	}

	// Timeouts on plain HTTP and a cap on its connections; upgraded
	// WebSockets leave that count for the relay's own caps (httpserve).
	srv := httpserve.New(b.Handler(), httpserve.Options{Logger: b.log})
	served := make(chan error, 1)
	go func() {
		err := srv.Serve(b.opts.Listener)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		served <- err
	}()
	b.log.Info("meshbox serving", "version", b.opts.Version, "listen", b.opts.Listener.Addr().String(),
		"auth", authMode(b.opts.Token), "token_source", b.opts.TokenSource, "state_dir", b.cfg.StateDir, "hardware", b.hw.desc)
	go func() {
		select {
		case <-b.member.Joined():
			close(b.ready)
		case <-ctx.Done():
		}
	}()

	var failure error
	select {
	case <-ctx.Done():
		if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) {
			failure = cause
		}
	case failure = <-served:
		failure = fmt.Errorf("http: %w", failure)
	}
	if failure != nil && !errors.Is(failure, update.ErrRestart) {
		b.log.Error("stopping", "err", failure)
	} else {
		b.log.Info("shutting down")
	}
	stopAll()
	rerr := b.closeRelay()
	sctx, scancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer scancel()
	herr := srv.Shutdown(sctx)
	if rerr != nil || herr != nil {
		b.log.Warn("unclean shutdown", "relay", rerr, "http", herr)
	}
	st := b.relay.Stats()
	b.log.Info("stopped", "accepted", st.Accepted, "rejected", st.Rejected, "frames_in", st.FramesIn,
		"frames_out", st.FramesOut, "dropped", st.Dropped, "reaped", st.Reaped, "rate_limited", st.RateLimited,
		"auth_failed", st.AuthFailed)
	return failure
}

// closeRelay closes every relay connection with 1001.
func (b *Box) closeRelay() error {
	sctx, scancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer scancel()
	return b.relay.Close(sctx)
}

// Close drives every output to its exit state and releases the hardware;
// it is idempotent and meant to be deferred (Run does): on a panic it does
// so before re-panicking.
func (b *Box) Close() {
	r := recover()
	b.closeHW.Do(func() {
		if r != nil {
			b.log.Error("panic: driving outputs to their exit state", "panic", fmt.Sprint(r))
		}
		b.hw.bridge.Shutdown()
		if err := b.hw.host.Close(); err != nil {
			b.log.Debug("close hardware", "err", err)
		}
	})
	if r != nil {
		panic(r)
	}
}

func authMode(token string) string {
	if token == "" {
		return "none"
	}
	return "token"
}

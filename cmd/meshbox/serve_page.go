package main

// Owned by the pairing engineer: the box's page, pairing QR, mDNS and layout
// push, wired into serve.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/page"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/relay"
)

// pairingPayload builds the §15.1 payload: the advertise_url, else
// ws://<LAN IPv4 of the default route>:<listen port>.
func pairingPayload(cfg *config.Config, token string, res pairing.Resolver) (pairing.Payload, error) {
	channel := cfg.Channel
	if channel == "" {
		channel = "home"
	}
	p := pairing.Payload{Channel: channel, Role: pairing.DefaultRole, Token: token}
	if cfg.AdvertiseURL != "" {
		p.URL = pairing.URL(cfg.AdvertiseURL, nil, 0)
		return p, nil
	}
	port, err := pairing.ListenPort(cfg.Listen)
	if err != nil {
		return p, err
	}
	ip, err := res.LANIPv4()
	if err != nil {
		return p, fmt.Errorf("pairing address: %w (set advertise_url in the config)", err)
	}
	p.URL = pairing.URL("", ip, port)
	return p, nil
}

// newPairingWindow opens the pairing window at boot (config pairing.window,
// default 10 minutes; pairing.always keeps it open).
func newPairingWindow(cfg *config.Config) *pairing.Window {
	return pairing.NewWindow(cfg.Pairing.Window, cfg.Pairing.Always, nil)
}

// pairingButton is the bridge's OnPairingButton: it reopens the window
// (logPairing logs it).
func pairingButton(w *pairing.Window) func() {
	return func() { w.OpenBy("the pairing button") }
}

// logPairing returns the pairing.Window.Watch callback that logs one INFO
// line per change: opened (how, for how long, until when) and closed (how
// to pair again). button is the pairing input's label ("" = none).
func logPairing(log *slog.Logger, button string) func(pairing.Change) {
	return func(c pairing.Change) {
		switch {
		case c.Always:
			log.Info("pairing always open (pairing.always): the page shows the QR and the token to anyone on the LAN")
		case c.Open:
			msg := "pairing opened"
			switch c.Reason {
			case "":
			case "boot":
				msg = "pairing open at boot"
			default:
				msg += " by " + c.Reason
			}
			log.Info(msg, "for", c.For.Round(time.Second).String(), "until", c.Until.Format("15:04:05"))
		case button != "":
			log.Info("pairing closed; press the pairing button or run `meshbox qr` to pair", "button", button)
		default:
			log.Info("pairing closed; run `meshbox qr` to pair (no pairing button configured)")
		}
	}
}

// loopbackWarning is the warning for a relay that listens on loopback only
// while its pairing URL points at the LAN ("" when that is not the case).
// code wraps the flag to use (backticks for the page, "" for logs).
func loopbackWarning(cfg *config.Config, code string) string {
	if cfg.AdvertiseURL != "" || !loopbackListen(cfg.Listen) {
		return "" // a reverse proxy in front of a loopback relay is fine
	}
	host, port, _ := net.SplitHostPort(cfg.Listen)
	return "the relay listens on " + host + " only: phones on the LAN cannot reach it; use " + code + "-listen :" + port + code
}

// pageWarning is the banner on the page: a loopback-only relay, and a real
// wiring running on simulated hardware.
func pageWarning(s pageSetup, code string) string {
	var ws []string
	if w := loopbackWarning(s.Cfg, code); w != "" {
		ws = append(ws, w)
	}
	if s.Simulated {
		ws = append(ws, "no GPIO chip was found: this wiring runs on SIMULATED hardware (made-up sensor values, no pin is driven)")
	}
	return strings.Join(ws, "; ")
}

// pageSetup is what the page needs from serve.
type pageSetup struct {
	Env    *Env
	Cfg    *config.Config
	Token  string
	Window *pairing.Window
	Relay  *relay.Server
	Bridge *bridge.Bridge
	// Member returns the bridge's membership in the embedded relay (nil
	// until it has joined).
	Member func() *bridge.Member
	Logger *slog.Logger
	// SimulatedBoard: the bridge drives the simulated board. Simulated: a
	// real config runs on it without -sim (no GPIO chip found), which the
	// page says.
	SimulatedBoard, Simulated bool
}

// addPage wires the page into serve: the pairing window (opened at boot,
// reopened by the pairing input), the console QR, the page and its endpoints
// on b.mux, and a "page" component running the layout pusher and mDNS.
func (b *box) addPage(ctx context.Context) error {
	log := b.log.With("component", "page")
	cfg := *b.cfg
	cfg.Listen = b.listenAddr()
	w := newPairingWindow(&cfg)
	s := pageSetup{Env: b.env, Cfg: &cfg, Token: b.token, Window: w, Relay: b.relay, Logger: log,
		Member: func() *bridge.Member { return nil }}
	if b.hw != nil {
		b.hw.setPairingButton(pairingButton(w))
		s.Bridge = b.hw.bridge
		s.Member = b.hw.Member
		s.SimulatedBoard = b.hw.sim != nil
		s.Simulated = b.hw.sim != nil && !b.opts.sim && b.cfg.Path != ""
	}
	h, run, err := newPage(s)
	if err != nil {
		return err
	}
	b.mux.Handle("/", h)
	b.components = append(b.components, component{name: "page", run: run})
	return nil
}

// relayRequest is what the relay sees of a WebSocket upgrade: the page's
// own Origin is removed (see page.Handler.WithRelay), any other Origin meets
// the relay's allow-list.
func (b *box) relayRequest(r *http.Request) *http.Request {
	if r.Header.Get("Origin") == "" || !page.SameOrigin(r, boxHosts(b.cfg)) {
		return r
	}
	r = r.Clone(r.Context())
	r.Header.Del("Origin")
	return r
}

// newPage prints the pairing QR, builds the layout and the page handler
// (plain HTTP only; upgrades stay with the relay), and returns the
// component that runs the layout pusher and the mDNS advertisement.
func newPage(s pageSetup) (*page.Handler, func(ctx context.Context) error, error) {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := pairing.Resolver{Logger: log}
	payload, err := pairingPayload(s.Cfg, s.Token, res)
	lanOK := err == nil
	if err != nil {
		// No IPv4 LAN address (yet): never put 127.0.0.1 in a QR; use the
		// mDNS host name, which phones on the LAN resolve.
		port, _ := pairing.ListenPort(s.Cfg.Listen)
		host := s.Cfg.MDNS.Hostname
		if host == "" {
			host, _ = os.Hostname()
		}
		payload.URL = "ws://" + net.JoinHostPort(strings.TrimSuffix(pairing.HostFQDN(host), "."), strconv.Itoa(port))
		log.Warn("pairing: no LAN address, the QR uses the host name (set advertise_url to choose)", "err", err, "url", payload.URL)
	}
	// A relay on loopback only (-listen 127.0.0.1:PORT, no advertise_url):
	// the pairing URL (QR, pairing JSON, /layout.json) stays the LAN URL a
	// phone needs once the relay listens on the LAN, never 127.0.0.1 (a
	// phone would dial its own loopback). What keeps it honest is one WARN
	// at start, the same warning as a banner on the page (session
	// "warning") and on stderr under `meshbox qr`. The page's own WebSocket
	// dials location.host, not this URL, so a browser on this machine
	// keeps working.
	if w := loopbackWarning(s.Cfg, ""); w != "" {
		log.Warn(w, "listen", s.Cfg.Listen, "advertised", payload.URL)
	}
	printConsoleQR(s.Env, payload, log)

	l, err := layout.Generate(s.Cfg, layout.Options{URL: payload.URL, Token: s.Token})
	if err != nil {
		return nil, nil, fmt.Errorf("layout: %w", err)
	}
	if err := layout.ValidateLayout(l, nil); err != nil {
		log.Warn("layout: generated layout breaks a schema rule", "err", err)
	}
	withTok, err := l.JSON()
	if err != nil {
		return nil, nil, err
	}
	noTok, err := l.WithoutToken().JSON()
	if err != nil {
		return nil, nil, err
	}
	counters := &bridgeCounters{reads: map[string]uint64{}, errors: map[string]uint64{}}
	pushes := &pushCounters{}
	pairingLabel := ""
	for _, in := range s.Cfg.Inputs {
		if in.Pairing {
			pairingLabel = in.Label
			if pairingLabel == "" {
				pairingLabel = in.ID
			}
		}
	}
	h := page.New(page.Options{
		Name: s.Cfg.Name, URL: payload.URL, Channel: payload.Channel, Token: s.Token,
		Window: s.Window, PairingButton: pairingLabel, Hosts: boxHosts(s.Cfg), Logger: log, Warning: pageWarning(s, "`"),
		Layout: func(withToken bool) ([]byte, error) {
			if withToken {
				return withTok, nil
			}
			return noTok, nil
		},
		Health: func() error {
			if s.Bridge == nil {
				return nil
			}
			if m := s.Member(); m == nil || !m.Ready() {
				return errors.New("the bridge has not joined the relay")
			}
			return nil
		},
		Metrics: func() []page.Metric { return collectMetrics(s, counters, pushes) },
	})

	run := func(ctx context.Context) error {
		if s.Window != nil && s.Token != "" { // an open relay has no secret to guard
			wctx, stop := context.WithCancel(ctx)
			watched := make(chan struct{})
			defer func() { stop(); <-watched }()
			go func() { defer close(watched); s.Window.Watch(wctx, logPairing(log, pairingLabel)) }()
		}
		if s.Bridge != nil {
			defer s.Bridge.Attach(counters)()
		}
		switch {
		case s.Cfg.MDNS.Disabled || !lanOK:
		case loopbackListen(s.Cfg.Listen):
			log.Info("mdns: not advertising: the relay listens on loopback only", "listen", s.Cfg.Listen)
		default:
			startMDNS(ctx, s.Cfg, payload, res, log)
		}
		if s.Bridge == nil {
			<-ctx.Done()
			return nil
		}
		// The pusher speaks through the bridge's member (a monitor with
		// routing rights); wait for it to join.
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for s.Member() == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
		m := s.Member()
		p := layout.NewPusher(layout.PushOptions{
			Client: m.Client, Self: m.Client.Name(), Channel: payload.Channel,
			Layout: func() *layout.Layout { return l }, Logger: log, OnResult: pushes.add,
		})
		return p.Run(ctx)
	}
	return h, run, nil
}

// printConsoleQR prints the QR when stdout is a terminal. Under a service
// manager stdout is a log, and the QR carries the token: log a hint instead.
func printConsoleQR(env *Env, p pairing.Payload, log *slog.Logger) {
	if f, ok := env.Stdout.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			if q, err := pairing.NewQR(p.JSON()); err == nil {
				printPairing(env, q, p, false)
				return
			}
		}
	}
	log.Info("pairing: scan the QR on the page or run `meshbox qr` on the console",
		"page", pairing.HTTPURL(p.URL)+"/")
}

// boxHosts are the names the box answers to besides IP literals (for the
// page's Host and Origin checks).
func boxHosts(cfg *config.Config) []string {
	var hosts []string
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h, h+".local")
	}
	if cfg.MDNS.Hostname != "" {
		hosts = append(hosts, strings.TrimSuffix(pairing.HostFQDN(cfg.MDNS.Hostname), "."))
	}
	if cfg.AdvertiseURL != "" {
		if u, err := url.Parse(cfg.AdvertiseURL); err == nil && u.Hostname() != "" {
			hosts = append(hosts, u.Hostname())
		}
	}
	return hosts
}

func startMDNS(ctx context.Context, cfg *config.Config, p pairing.Payload, res pairing.Resolver, log *slog.Logger) {
	port, err := pairing.ListenPort(cfg.Listen)
	if err != nil {
		return
	}
	ip, err := res.LANIPv4()
	if err != nil {
		log.Warn("mdns: not advertising", "err", err)
		return
	}
	auth := "token"
	if p.Token == "" {
		auth = "none"
	}
	a := pairing.Advert{Instance: cfg.Name, Hostname: cfg.MDNS.Hostname, Port: port, IPs: []net.IP{ip},
		TXT: []string{"path=/", "channel=" + p.Channel, "name=" + cfg.Name, "auth=" + auth}}
	if err := pairing.Advertise(ctx, a, log); err != nil {
		log.Warn("mdns: not advertising", "err", err)
	}
}

// bridgeCounters counts metrics and sensor_error frames per source, as a
// Mesh attached to the bridge.
type bridgeCounters struct {
	mu     sync.Mutex
	reads  map[string]uint64
	errors map[string]uint64
}

func (c *bridgeCounters) Broadcast(_ context.Context, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil
	}
	var m struct {
		MsgType string `json:"msg_type"`
		Source  string `json:"source"`
	}
	if json.Unmarshal(b, &m) != nil || m.Source == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.MsgType {
	case "metrics":
		c.reads[m.Source]++
	case "sensor_error":
		c.errors[m.Source]++
	}
	return nil
}

type pushCounters struct {
	mu                   sync.Mutex
	ok, refused, timeout uint64
}

func (p *pushCounters) add(r layout.PushResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case r.OK:
		p.ok++
	case r.Timeout:
		p.timeout++
	default:
		p.refused++
	}
}

func collectMetrics(s pageSetup, bc *bridgeCounters, pc *pushCounters) []page.Metric {
	var ms []page.Metric
	add := func(name, help, typ string, v float64, labels ...string) {
		m := page.Metric{Name: name, Help: help, Type: typ, Value: v}
		for i := 0; i+1 < len(labels); i += 2 {
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels[labels[i]] = labels[i+1]
		}
		ms = append(ms, m)
	}
	add("meshbox_build_info", "The running meshbox version (always 1).", "gauge", 1, "version", version)
	sim := 0.0
	if s.Bridge != nil && s.SimulatedBoard {
		sim = 1
	}
	add("meshbox_simulated_hardware", "1 when the outputs and sensors are simulated (-sim or no GPIO chip).", "gauge", sim)
	if s.Relay != nil {
		st := s.Relay.Stats()
		add("meshbox_relay_connections", "Open relay connections (sockets and pipes).", "gauge", float64(st.Connections))
		add("meshbox_relay_members", "Identified relay members.", "gauge", float64(st.Members))
		add("meshbox_relay_pending", "Connections not yet identified.", "gauge", float64(st.Pending))
		add("meshbox_relay_accepted_total", "Connections admitted.", "counter", float64(st.Accepted))
		add("meshbox_relay_rejected_total", "Connections refused (caps, origin, token, grammar).", "counter", float64(st.Rejected))
		add("meshbox_relay_frames_in_total", "Frames read by the relay.", "counter", float64(st.FramesIn))
		add("meshbox_relay_frames_out_total", "Frames written by the relay.", "counter", float64(st.FramesOut))
		add("meshbox_relay_dropped_total", "Frames not delivered.", "counter", float64(st.Dropped))
		add("meshbox_relay_reaped_total", "Slow consumers closed.", "counter", float64(st.Reaped))
		add("meshbox_relay_rate_limited_total", "Connections closed by the rate limit.", "counter", float64(st.RateLimited))
		add("meshbox_relay_route_timeouts_total", "route_msg requests that timed out.", "counter", float64(st.RouteTimeouts))
	}
	if s.Bridge != nil {
		st := s.Bridge.Stats()
		add("meshbox_bridge_sensor_reads_total", "Successful sensor readings.", "counter", float64(st.SensorReads))
		add("meshbox_bridge_sensor_errors_total", "Failed sensor opens or reads.", "counter", float64(st.SensorErrors))
		bc.mu.Lock()
		for _, sc := range s.Cfg.Sensors {
			add("meshbox_sensor_reads_total", "Readings published, per sensor.", "counter", float64(bc.reads[sc.ID]), "sensor", sc.ID)
		}
		for _, sc := range s.Cfg.Sensors {
			add("meshbox_sensor_read_errors_total", "Read errors, per sensor.", "counter", float64(bc.errors[sc.ID]), "sensor", sc.ID)
		}
		for _, d := range s.Cfg.Serial {
			add("meshbox_sensor_read_errors_total", "Read errors, per sensor.", "counter", float64(bc.errors[d.ID]), "sensor", d.ID)
		}
		bc.mu.Unlock()
		for _, o := range s.Cfg.Outputs {
			add("meshbox_output_switches_total", "Output changes driven, per output.", "counter", float64(st.OutputSwitches[o.ID]), "output", o.ID)
		}
		add("meshbox_bridge_commands_total", "Commands handled.", "counter", float64(st.CommandsOK), "result", "ok")
		add("meshbox_bridge_commands_total", "Commands handled.", "counter", float64(st.CommandsFailed), "result", "failed")
		add("meshbox_bridge_rate_limited_total", "Commands refused by the actuation rate limit.", "counter", float64(st.RateLimited))
		add("meshbox_bridge_hardware_errors_total", "Failed output writes.", "counter", float64(st.HardwareErrors))
		add("meshbox_bridge_input_edges_total", "Debounced input changes.", "counter", float64(st.InputEdges))
		add("meshbox_bridge_serial_lines_total", "Serial lines parsed.", "counter", float64(st.SerialLines))
	}
	open := 0.0
	if s.Window != nil && s.Window.IsOpen() {
		open = 1
	}
	add("meshbox_pairing_open", "1 while the pairing window is open.", "gauge", open)
	pc.mu.Lock()
	add("meshbox_layout_pushes_total", "apply-layout pushes by outcome.", "counter", float64(pc.ok), "result", "ok")
	add("meshbox_layout_pushes_total", "apply-layout pushes by outcome.", "counter", float64(pc.refused), "result", "refused")
	add("meshbox_layout_pushes_total", "apply-layout pushes by outcome.", "counter", float64(pc.timeout), "result", "timeout")
	pc.mu.Unlock()
	return ms
}

// loopbackListen reports whether addr ("127.0.0.1:8765", "localhost:0",
// "[::1]:80") only accepts connections from this machine: advertising it on
// the LAN would send phones to a port they cannot reach.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

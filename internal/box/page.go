package box

// The page component: the box's page, pairing QR, mDNS and the layout push
// (the pairing code lives in internal/pairing and internal/page).

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/page"
	"github.com/meshbox/meshbox/internal/pairing"
)

// PairingPayload builds the §15.1 payload: the advertise_url, else
// ws://<LAN IPv4 of the default route>:<listen port>.
func PairingPayload(cfg *config.Config, token string, res pairing.Resolver) (pairing.Payload, error) {
	channel := cfg.Channel
	if channel == "" {
		channel = config.DefaultChannel
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
			log.Info("pairing closed; press the pairing button or run `sudo meshbox pair` to pair", "button", button)
		default:
			log.Info("pairing closed; run `sudo meshbox pair` to pair (no pairing button configured)")
		}
	}
}

// LoopbackWarning is the warning for a relay that listens on loopback only
// while its pairing URL points at the LAN ("" when that is not the case).
// code wraps the flag to use (backticks for the page, "" for logs).
func LoopbackWarning(cfg *config.Config, code string) string {
	if cfg.AdvertiseURL != "" || !loopbackListen(cfg.Listen) {
		return "" // a reverse proxy in front of a loopback relay is fine
	}
	host, port, _ := net.SplitHostPort(cfg.Listen)
	return "the relay listens on " + host + " only: phones on the LAN cannot reach it; use " + code + "-listen :" + port + code
}

// pageWarning is the banner on the page: a loopback-only relay, and a real
// wiring running on simulated hardware.
func (b *Box) pageWarning(code string) string {
	var ws []string
	if w := LoopbackWarning(b.cfg, code); w != "" {
		ws = append(ws, w)
	}
	if b.simulatedWithoutFlag() {
		ws = append(ws, "no GPIO chip was found: this wiring runs on SIMULATED hardware (made-up sensor values, no pin is driven)")
	}
	return strings.Join(ws, "\n") // one line each in the banner (white-space: pre-line)
}

// relayRequest is what the relay sees of a WebSocket upgrade: the page's
// own Origin is removed (see page.Handler.WithRelay), any other Origin meets
// the relay's allow-list.
func (b *Box) relayRequest(r *http.Request) *http.Request {
	if r.Header.Get("Origin") == "" || !page.SameOrigin(r, boxHosts(b.cfg)) {
		return r
	}
	r = r.Clone(r.Context())
	r.Header.Del("Origin")
	return r
}

// pageState is what the page component builds in routes and runs in
// startPage.
type pageState struct {
	payload      pairing.Payload
	lanOK        bool
	res          pairing.Resolver
	pairingLabel string

	mu     sync.Mutex      // guards the layouts (regenerated when the room key rotates or a linked box changes)
	base   *layout.Layout  // guarded by mu: this box's own generated layout
	linked []layout.Linked // guarded by mu: the linked boxes shown (linked.go)
	layout *layout.Layout  // guarded by mu: base merged with linked, what phones get
	pushes *pushCounters
	log    *slog.Logger
}

// routes prints the pairing QR, builds the layout and mounts the page (GET
// /, /layout.json, /pairing.png, /healthz, /metrics) and POST /update on
// the mux (plain HTTP only; upgrades stay with the relay).
func (b *Box) routes() error {
	log := b.log.With("component", "page")
	res := pairing.Resolver{Logger: log}
	payload, err := PairingPayload(b.cfg, "", res) // the token: minted per phone (creds.go)
	lanOK := err == nil
	if err != nil {
		// No IPv4 LAN address (yet): never put 127.0.0.1 in a QR; use the
		// mDNS host name, which phones on the LAN resolve.
		port, _ := pairing.ListenPort(b.cfg.Listen)
		host := b.cfg.MDNS.Hostname
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
	if w := LoopbackWarning(b.cfg, ""); w != "" {
		log.Warn(w, "listen", b.cfg.Listen, "advertised", payload.URL)
	}
	// The token is minted per phone (creds.go); the room key travels with it.
	var rotate func() error
	if b.room != nil {
		rotate = func() error { _, err := b.room.keys.Rotate(); return err }
	}
	b.creds.setAdmin(payload, b.room.key, b.relay, rotate)
	tok, open := b.creds.manager.QRToken() // open at the first start only
	switch {
	case b.opts.ConsoleQR != nil && (open || b.creds.open):
		p := payload
		p.Token = tok
		if tok != "" {
			p.K = b.room.key()
		}
		b.opts.ConsoleQR(p)
	case open || b.creds.open:
		log.Info("pairing: scan the QR on the page or run `sudo meshbox pair` on the console",
			"page", pairing.HTTPURL(payload.URL)+"/")
	}

	ps := &pageState{payload: payload, lanOK: lanOK, res: res, log: log,
		pushes: &pushCounters{}}
	if err := ps.setLayout(b.cfg, b.room.key()); err != nil {
		return err
	}
	if b.room != nil {
		// A rotated room key is a new layout (pushed again, sealed with it).
		b.room.keys.OnRotate(func(k e2ee.Key) {
			if err := ps.setLayout(b.cfg, k.String()); err != nil {
				log.Error("layout after the room key rotated", "err", err)
			}
		})
	}
	for _, in := range b.cfg.Inputs {
		if in.Pairing {
			ps.pairingLabel = in.Label
			if ps.pairingLabel == "" {
				ps.pairingLabel = in.ID
			}
		}
	}
	b.page = ps
	c := b.creds
	h := page.New(page.Options{
		Name: b.cfg.Name, URL: payload.URL, Channel: payload.Channel, OpenRelay: c.open,
		Credentials: c.store, Pairing: c.manager, Admin: c.admin,
		PairingButton: ps.pairingLabel, Hosts: boxHosts(b.cfg), Logger: log, Warning: b.pageWarning("`"),
		SimTargets: b.simTargets(),
		E2EEKey:    b.room.key,
		Layout:     ps.layoutJSON,
		Health:     b.health,
		Metrics:    b.metrics.reg.WritePrometheus,
	})
	b.mux.Handle("/", h)
	b.mountUpdate()
	return nil
}

// startPage runs the pairing-window log, mDNS and the layout pusher (through the bridge's member, a
// monitor with routing rights, which exists already).
func (b *Box) startPage(ctx context.Context) (func(), error) {
	ps := b.page
	log := ps.log
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	goRun := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	switch {
	case b.cfg.MDNS.Disabled || !ps.lanOK:
	case loopbackListen(b.cfg.Listen):
		log.Info("mdns: not advertising: the relay listens on loopback only", "listen", b.cfg.Listen)
	default:
		goRun(func() { startMDNS(ctx, b.cfg, ps.payload, ps.res, log) })
	}
	m := b.member
	po := layout.PushOptions{
		Client: m.Client, Self: m.Client.Name(), Channel: ps.payload.Channel,
		// Pushed without a token: a phone keeps the one it paired with, and
		// no member learns another's token.
		Layout: func() *layout.Layout { return ps.current().Pushed() }, Logger: log, OnResult: ps.pushes.add,
	}
	if b.room != nil { // the layout carries the token and the room key: sealed
		po.Seal, po.Open = b.room.codec.Seal, b.room.openReply
	}
	p := layout.NewPusher(po)
	goRun(func() { ps.followLinked(ctx, b.hw.bridge) })
	goRun(func() {
		if err := p.Run(ctx); err != nil && ctx.Err() == nil {
			b.fail(fmt.Errorf("layout push: %w", err))
		}
	})
	return func() { cancel(); wg.Wait() }, nil
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

// setLayout generates the phone layout (with the token and, in an
// setLayout (re)generates the layout with the room key (no token: each
// member's own goes in on the way out).
func (ps *pageState) setLayout(cfg *config.Config, key string) error {
	l, err := layout.Generate(cfg, layout.Options{URL: ps.payload.URL, E2EEKey: key})
	if err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	if err := layout.ValidateLayout(l, nil); err != nil {
		ps.log.Warn("layout: generated layout breaks a schema rule", "err", err)
	}
	ps.mu.Lock()
	ps.base = l
	err = ps.mergeLocked()
	ps.mu.Unlock()
	if err != nil {
		ps.log.Warn("layout: the merged layout breaks a schema rule; showing this box's controls only", "err", err)
	}
	return nil
}

// current is the layout the pusher pushes.
func (ps *pageState) current() *layout.Layout {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.layout
}

// layoutJSON is /layout.json with the member's own token (and the room
// key); without a token, neither.
func (ps *pageState) layoutJSON(tok string) ([]byte, error) {
	return ps.current().WithToken(tok).JSON()
}

// simTargets are the sensor fields and inputs the page's sim panel can
// force (nil on real hardware).
func (b *Box) simTargets() []string {
	if b.hw.sim == nil {
		return nil
	}
	var ids []string
	for k := range b.cfg.MetricFields() {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	for _, in := range b.cfg.Inputs {
		ids = append(ids, in.ID)
	}
	return ids
}

package page

import (
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/meshbox/meshbox/internal/auth"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/pairing"
)

//go:embed assets
var assets embed.FS

// Credentials checks member tokens and the owner credential
// (*auth.Store).
type Credentials interface {
	Lookup(token string) (auth.Scope, bool)
	IsOwner(token string) bool
}

// Options configure the page. Only Name and URL are required.
type Options struct {
	Name    string // the box (bridge member) name
	URL     string // ws:// URL phones dial (the pairing URL)
	Channel string // mesh channel (default config.DefaultChannel)
	// E2EEKey returns the base64 room key of an encrypted room ("" or nil =
	// not encrypted). It is handed over only with a member token: in the
	// pairing QR ("k") and in /api/session ("key").
	E2EEKey func() string
	// OpenRelay: the relay runs without authentication; the page shows its
	// session, layout and QR (without a token) to anyone.
	OpenRelay bool
	// Credentials checks the member tokens requests carry and the owner
	// credential of POST /api/owner (nil: only an open relay works).
	Credentials Credentials
	// Pairing hands out member tokens while the pairing window is open
	// (nil: never).
	Pairing *pairing.Manager
	// Admin carries out the owner's operations (nil: no owner API).
	Admin *pairing.Admin
	// PairingButton is the label of the configured pairing input ("" = none),
	// used in the hint shown while pairing is closed.
	PairingButton string
	// Layout returns /layout.json with token in its connection block (""
	// = null).
	Layout func(token string) ([]byte, error)
	// Health returns nil when ready, else the reason (503).
	Health func() error
	// Metrics writes the /metrics body (Prometheus text format 0.0.4);
	// nil serves an empty one.
	Metrics func(w io.Writer) error
	// Hosts are the box's own names accepted in Host/Origin besides IP
	// literals and localhost (its host name, <host>.local, the advertised
	// host).
	Hosts []string
	// Warning is shown on the page as a banner ("" = none), for example
	// that the relay listens on loopback only so the pairing URL cannot be
	// reached from the LAN. `Quoted` parts are shown as code, like in the
	// pairing hint.
	Warning string
	// SimTargets, on the simulated board, are the sensor fields and inputs
	// the page's sim panel can force ({"msg_type":"sim"}); nil: no panel.
	SimTargets []string
	Logger     *slog.Logger
}

// Handler serves the page and its endpoints.
type Handler struct {
	opts  Options
	mux   *http.ServeMux
	owner *ownerLimiter

	qrMu  sync.Mutex
	qrFor string // the payload JSON qrPNG encodes
	qrPNG []byte
}

// New returns the page handler.
func New(opts Options) *Handler {
	if opts.Channel == "" {
		opts.Channel = config.DefaultChannel
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{opts: opts, mux: http.NewServeMux(), owner: newOwnerLimiter()}
	static, err := fs.Sub(assets, "assets")
	if err != nil { // the embed pattern guarantees the directory
		panic(err)
	}
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /api/session", h.session)
	h.mux.HandleFunc("GET /pairing.png", h.pairingPNG)
	h.mux.HandleFunc("GET /layout.json", h.layout)
	h.mux.HandleFunc("GET /healthz", h.healthz)
	h.mux.HandleFunc("GET /metrics", h.metrics)
	h.mux.HandleFunc("POST /api/owner", h.ownerAPI)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) key() string {
	if h.opts.E2EEKey == nil {
		return ""
	}
	return h.opts.E2EEKey()
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	body, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, "page missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Frame-Options", "DENY")
	connect := "'self'"
	if HostAllowed(r.Host, h.opts.Hosts) && !strings.ContainsAny(r.Host, " ;,'\"") {
		connect += " ws://" + r.Host + " wss://" + r.Host // older browsers: 'self' does not cover ws:
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'; "+
		"connect-src "+connect+"; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	_, _ = w.Write(body)
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h.opts.Health != nil {
		if err := h.opts.Health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (h *Handler) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h.opts.Metrics != nil {
		if err := h.opts.Metrics(w); err != nil {
			h.opts.Logger.Debug("page: /metrics write", "err", err)
		}
	}
}

func writeJSON(w http.ResponseWriter, v any) { writeJSONStatus(w, http.StatusOK, v) }

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// HostAllowed reports whether a Host header value (host or host:port) names
// this box: an IP literal, localhost, or one of names (case-insensitive).
// A DNS-rebinding attacker's page has its own domain as Host, so it fails.
func HostAllowed(hostport string, names []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil || host == "localhost" {
		return true
	}
	for _, n := range names {
		if strings.TrimSuffix(strings.ToLower(n), ".") == host {
			return true
		}
	}
	return false
}

// SameOrigin reports whether a browser request comes from the box's own
// page: its Origin's host:port equals the request Host and names the box
// (HostAllowed).
func SameOrigin(r *http.Request, names []string) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) && HostAllowed(u.Host, names)
}

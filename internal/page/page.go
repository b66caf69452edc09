package page

import (
	"crypto/subtle"
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
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/pairing"
)

//go:embed assets
var assets embed.FS

// Options configure the page. Only Name and URL are required.
type Options struct {
	Name    string // the box (bridge member) name
	URL     string // ws:// URL phones dial (the pairing URL)
	Channel string // mesh channel (default config.DefaultChannel)
	Token   string // shared key; "" = open relay
	// E2EEKey returns the base64 room key of an encrypted room ("" or nil =
	// not encrypted). It is handed over only with the token: in the
	// pairing QR ("k") and in /api/session ("key").
	E2EEKey func() string
	// Window decides when the QR and token are shown; nil = never (an open
	// relay always shows its QR: it holds no secret).
	Window *pairing.Window
	// PairingButton is the label of the configured pairing input ("" = none),
	// used in the hint shown while pairing is closed.
	PairingButton string
	// Layout returns /layout.json; withToken says whether the connection
	// block may carry the token.
	Layout func(withToken bool) ([]byte, error)
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
	Logger  *slog.Logger
}

// Handler serves the page and its endpoints.
type Handler struct {
	opts  Options
	mux   *http.ServeMux
	qrMu  sync.Mutex
	qrFor string // the payload qrPNG encodes (the key may rotate)
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
	h := &Handler{opts: opts, mux: http.NewServeMux()}
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
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

// Payload is the pairing payload of this box.
func (h *Handler) Payload() pairing.Payload {
	return pairing.Payload{URL: h.opts.URL, Channel: h.opts.Channel, Role: pairing.DefaultRole, Token: h.opts.Token, K: h.key()}
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

// pairingOpen reports whether the token may be shown to this request.
func (h *Handler) pairingOpen() bool {
	if h.opts.Token == "" {
		return true
	}
	return h.opts.Window != nil && h.opts.Window.IsOpen()
}

// hasToken reports whether the request carries the right token.
func (h *Handler) hasToken(r *http.Request) bool {
	if h.opts.Token == "" {
		return true
	}
	got := r.URL.Query().Get("token")
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		got = strings.TrimPrefix(a, "Bearer ")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.Token)) == 1
}

// mayShowToken: the right token, or pairing open for a request addressed to
// one of the box's own names.
func (h *Handler) mayShowToken(r *http.Request) bool {
	if h.hasToken(r) {
		return true
	}
	return h.pairingOpen() && HostAllowed(r.Host, h.opts.Hosts)
}

func (h *Handler) hint() string {
	how := "run `meshbox qr` on the box's console"
	if h.opts.PairingButton != "" {
		how = "press the pairing button (" + h.opts.PairingButton + ") on the box, or " + how
	}
	return "Pairing is closed. To show the QR code, " + how + "."
}

type sessionInfo struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	PageURL string `json:"pageUrl"`
	Channel string `json:"channel"`
	Auth    bool   `json:"auth"`
	Warning string `json:"warning,omitempty"`
	Pairing struct {
		Open     bool   `json:"open"`
		Always   bool   `json:"always"`
		Until    string `json:"until,omitempty"`
		ClosesIn int    `json:"closesIn,omitempty"` // seconds
		Hint     string `json:"hint,omitempty"`
	} `json:"pairing"`
	Token string `json:"token,omitempty"`
	// E2EE says the room is encrypted; Key is its room key, given with
	// the token only.
	E2EE bool   `json:"e2ee,omitempty"`
	Key  string `json:"key,omitempty"`
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	s := sessionInfo{Name: h.opts.Name, URL: h.opts.URL, PageURL: pairing.HTTPURL(h.opts.URL),
		Channel: h.opts.Channel, Auth: h.opts.Token != "", Warning: h.opts.Warning}
	s.Pairing.Open = h.pairingOpen() && HostAllowed(r.Host, h.opts.Hosts)
	if h.opts.Window != nil {
		s.Pairing.Always = h.opts.Window.Always()
		if u := h.opts.Window.Until(); !u.IsZero() && s.Pairing.Open {
			s.Pairing.Until = u.UTC().Format(time.RFC3339)
			s.Pairing.ClosesIn = int(time.Until(u).Seconds())
		}
	}
	if !s.Pairing.Open {
		s.Pairing.Hint = h.hint()
	}
	if s.Auth && h.mayShowToken(r) {
		s.Token = h.opts.Token
	}
	if k := h.key(); k != "" {
		s.E2EE = true
		if h.mayShowToken(r) {
			s.Key = k
		}
	}
	writeJSON(w, s)
}

func (h *Handler) pairingPNG(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.mayShowToken(r) {
		http.Error(w, h.hint(), http.StatusForbidden)
		return
	}
	png, err := h.qr()
	if err != nil {
		h.opts.Logger.Error("page: pairing QR", "err", err)
		http.Error(w, "cannot render the QR code", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(png)
}

// qr renders the pairing QR, again only when the payload changed (a
// rotated room key).
func (h *Handler) qr() ([]byte, error) {
	payload := string(h.Payload().JSON())
	h.qrMu.Lock()
	defer h.qrMu.Unlock()
	if h.qrPNG != nil && h.qrFor == payload {
		return h.qrPNG, nil
	}
	q, err := pairing.NewQR([]byte(payload))
	if err != nil {
		return nil, err
	}
	png, err := q.PNG(320)
	if err != nil {
		return nil, err
	}
	h.qrFor, h.qrPNG = payload, png
	return png, nil
}

func (h *Handler) layout(w http.ResponseWriter, r *http.Request) {
	if h.opts.Layout == nil {
		http.NotFound(w, r)
		return
	}
	body, err := h.opts.Layout(h.mayShowToken(r))
	if err != nil {
		h.opts.Logger.Error("page: layout", "err", err)
		http.Error(w, "layout: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
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

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
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

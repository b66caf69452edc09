package page

import (
	"net/http"
	"strings"
	"time"

	"github.com/meshbox/meshbox/internal/pairing"
)

// credential is the token a request carries: Authorization: Bearer, else
// ?token= (member tokens only; the owner API takes the header only).
func credential(r *http.Request) string {
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(a, "Bearer "))
	}
	return r.URL.Query().Get("token")
}

// member returns the member token the request carries when it is valid
// (hub, controller or viewer; never the owner credential).
func (h *Handler) member(r *http.Request) (string, bool) {
	tok := credential(r)
	if tok == "" || h.opts.Credentials == nil {
		return "", false
	}
	if _, ok := h.opts.Credentials.Lookup(tok); !ok {
		return "", false
	}
	return tok, true
}

// pairingOpen reports whether pairing is open for this request: the window
// is open and the request addresses one of the box's own names (a
// DNS-rebinding page never gets a token).
func (h *Handler) pairingOpen(r *http.Request) bool {
	return h.opts.Pairing != nil && h.opts.Pairing.Open() && HostAllowed(r.Host, h.opts.Hosts)
}

func (h *Handler) hint() string {
	how := "run `sudo meshbox pair` on the box's console"
	if h.opts.PairingButton != "" {
		how = "press the pairing button (" + h.opts.PairingButton + ") on the box, or " + how
	}
	return "Pairing is closed. To pair a phone, " + how + "."
}

type sessionInfo struct {
	Name    string `json:"name"`
	URL     string `json:"url,omitempty"`
	PageURL string `json:"pageUrl,omitempty"`
	Channel string `json:"channel,omitempty"`
	Auth    bool   `json:"auth"`
	// Member: the request carried a valid member token.
	Member  bool   `json:"member"`
	Warning string `json:"warning,omitempty"`
	Pairing struct {
		Open     bool   `json:"open"`
		Always   bool   `json:"always,omitempty"`
		Until    string `json:"until,omitempty"`
		ClosesIn int    `json:"closesIn,omitempty"` // seconds
		QR       string `json:"qr,omitempty"`       // changes when the QR's token changes
		Hint     string `json:"hint,omitempty"`
	} `json:"pairing"`
	// Token is a controller token minted for this page while pairing is
	// open (the page keeps it). Never the hub token or the owner credential.
	Token string `json:"token,omitempty"`
	// E2EE says the room is encrypted; Key is its room key, given only to
	// a member or with a token.
	E2EE bool   `json:"e2ee,omitempty"`
	Key  string `json:"key,omitempty"`
	// Sim lists what the sim panel can force (simulated board only).
	Sim []string `json:"sim,omitempty"`
}

// session: without a credential, after pairing closed, only the name and
// how to pair (401). A member token, an open window or an open relay get
// the box's address and state; an open window also mints the page a token.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	s := sessionInfo{Name: h.opts.Name, Auth: !h.opts.OpenRelay, Warning: h.opts.Warning}
	key := h.key()
	s.E2EE = key != ""
	_, isMember := h.member(r)
	open := h.pairingOpen(r)
	s.Member = isMember
	if !h.opts.OpenRelay && !isMember && !open {
		s.Pairing.Hint = h.hint()
		w.Header().Set("WWW-Authenticate", `Bearer realm="meshbox"`)
		writeJSONStatus(w, http.StatusUnauthorized, s)
		return
	}
	s.URL, s.PageURL, s.Channel = h.opts.URL, pairing.HTTPURL(h.opts.URL), h.opts.Channel
	s.Sim = h.opts.SimTargets
	s.Pairing.Open = open || h.opts.OpenRelay
	if open {
		win := h.opts.Pairing.Window()
		s.Pairing.Always = win.Always()
		if u := win.Until(); !u.IsZero() {
			s.Pairing.Until = u.UTC().Format(time.RFC3339)
			s.Pairing.ClosesIn = int(time.Until(u).Seconds())
		}
		s.Pairing.QR = h.opts.Pairing.QRVersion()
		if !isMember && !h.opts.OpenRelay {
			s.Token, _ = h.opts.Pairing.PageToken()
		}
	}
	if !s.Pairing.Open {
		s.Pairing.Hint = h.hint()
	}
	if isMember || s.Token != "" || h.opts.OpenRelay {
		s.Key = key
	}
	writeJSON(w, s)
}

// payload is the QR content for this request: no token for an open relay,
// the pairing QR token while pairing is open; ok false otherwise.
func (h *Handler) payload(r *http.Request) (pairing.Payload, bool) {
	p := pairing.Payload{URL: h.opts.URL, Channel: h.opts.Channel, Role: pairing.DefaultRole, K: h.key()}
	if h.opts.OpenRelay {
		return p, true
	}
	if !h.pairingOpen(r) {
		return p, false
	}
	tok, ok := h.opts.Pairing.QRToken()
	p.Token = tok
	return p, ok
}

func (h *Handler) pairingPNG(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p, ok := h.payload(r)
	if !ok {
		http.Error(w, h.hint(), http.StatusForbidden)
		return
	}
	img, err := h.qr(p)
	if err != nil {
		h.opts.Logger.Error("page: pairing QR", "err", err)
		http.Error(w, "cannot render the QR code", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(img)
}

// qr renders p, reusing the last image while the payload is the same.
func (h *Handler) qr(p pairing.Payload) ([]byte, error) {
	text := string(p.JSON())
	h.qrMu.Lock()
	if h.qrFor == text {
		img := h.qrPNG
		h.qrMu.Unlock()
		return img, nil
	}
	h.qrMu.Unlock()
	q, err := pairing.NewQR([]byte(text))
	if err != nil {
		return nil, err
	}
	img, err := q.PNG(320)
	if err != nil {
		return nil, err
	}
	h.qrMu.Lock()
	h.qrFor, h.qrPNG = text, img
	h.qrMu.Unlock()
	return img, nil
}

// layout: the wiring needs a member token (it is echoed in the connection
// block), an open pairing window (the QR's token) or an open relay.
func (h *Handler) layout(w http.ResponseWriter, r *http.Request) {
	if h.opts.Layout == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	tok, ok := h.member(r)
	switch {
	case h.opts.OpenRelay:
		tok, ok = "", true
	case !ok:
		p, open := h.payload(r)
		tok, ok = p.Token, open
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meshbox"`)
		writeJSONStatus(w, http.StatusUnauthorized, map[string]string{"error": "a member token is needed", "hint": h.hint()})
		return
	}
	body, err := h.opts.Layout(tok)
	if err != nil {
		h.opts.Logger.Error("page: layout", "err", err)
		http.Error(w, "layout: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

package page

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/meshbox/meshbox/internal/auth"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/relay"
)

const testToken = "page-secret-token"

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestHandler(t *testing.T, c *clock, health func() error) *Handler {
	t.Helper()
	store, err := auth.Open(auth.Options{Dir: t.TempDir(), HubToken: testToken, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	m := pairing.NewManager(pairing.NewWindow(10*time.Minute, false, c.now), store, nil)
	url := "ws://192.168.1.50:8765"
	return New(Options{
		Name: "garage", URL: url, Channel: "home", Credentials: store, Pairing: m,
		Admin: &pairing.Admin{Manager: m, Store: store, Payload: func(tok, role string) pairing.Payload {
			return pairing.Payload{URL: url, Channel: "home", Role: role, Token: tok}
		}},
		PairingButton: "Pair",
		Hosts:         []string{"garage-box.local"},
		Layout: func(tok string) ([]byte, error) {
			b, _ := json.Marshal(map[string]any{"name": "garage", "outputs": "the wiring", "connection": map[string]any{"token": nilIfEmpty(tok)}})
			return b, nil
		},
		Health: health,
		Metrics: func(w io.Writer) error {
			_, err := io.WriteString(w, "# HELP meshbox_relay_connections Open.\n# TYPE meshbox_relay_connections gauge\nmeshbox_relay_connections 3\n")
			return err
		},
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func store(h *Handler) *auth.Store { return h.opts.Credentials.(*auth.Store) }

func ownerToken(t *testing.T, h *Handler) string {
	t.Helper()
	tok, err := auth.ReadOwnerToken(store(h).Dir())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func get(t *testing.T, h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	r.Host = "192.168.1.50:8765"
	for k, v := range hdr {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func session(t *testing.T, w *httptest.ResponseRecorder) sessionInfo {
	t.Helper()
	var s sessionInfo
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
		t.Fatalf("session: %v: %s", err, w.Body.String())
	}
	return s
}

func TestIndexHasNoSecret(t *testing.T) {
	c := &clock{t: time.Now()}
	h := newTestHandler(t, c, nil)
	w := get(t, h, "/", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<script src=\"/assets/app.js\"") {
		t.Fatalf("index: %d %s", w.Code, w.Body.String())
	}
	if strings.Contains(w.Body.String(), testToken) {
		t.Fatal("index carries the token")
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' ws://192.168.1.50:8765") {
		t.Errorf("CSP %q", csp)
	}
	for _, asset := range []string{"/assets/app.js", "/assets/style.css"} {
		if w := get(t, h, asset, nil); w.Code != 200 || w.Body.Len() < 500 {
			t.Errorf("%s: %d (%d bytes)", asset, w.Code, w.Body.Len())
		}
	}
	if w := get(t, h, "/nope", nil); w.Code != 404 {
		t.Errorf("/nope: %d", w.Code)
	}
}

func decodePNG(t *testing.T, b []byte) pairing.Payload {
	t.Helper()
	var p pairing.Payload
	if err := json.Unmarshal([]byte(decodeQR(t, b)), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSessionAndQRFollowThePairingWindow(t *testing.T) {
	c := &clock{t: time.Now()}
	h := newTestHandler(t, c, nil)
	st := store(h)

	s := session(t, get(t, h, "/api/session", nil))
	if !s.Pairing.Open || s.Token == "" || s.Token == testToken || !s.Auth || s.Pairing.Until == "" || s.PageURL != "http://192.168.1.50:8765" {
		t.Fatalf("open window: %+v", s)
	}
	pageTok := s.Token
	w := get(t, h, "/pairing.png", nil)
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("pairing.png while open: %d", w.Code)
	}
	p := decodePNG(t, w.Body.Bytes())
	if p.URL != "ws://192.168.1.50:8765" || p.Role != "controller" || p.Token == "" || p.Token == testToken || p.Token == pageTok {
		t.Fatalf("QR = %+v (the hub token must never be in it)", p)
	}
	if sc, ok := st.Lookup(p.Token); !ok || sc != auth.ScopeController {
		t.Fatal("the QR's token is not a controller token")
	}
	// Used by a phone: the next QR carries a new token.
	if p2 := decodePNG(t, get(t, h, "/pairing.png", nil).Body.Bytes()); p2.Token == p.Token {
		t.Fatal("the QR still shows a token a phone already uses")
	}
	// A DNS-rebinding page (foreign Host) gets nothing, even while open.
	evil := map[string]string{"Host": "attacker.example:8765"}
	if w := get(t, h, "/api/session", evil); w.Code != 401 || session(t, w).Token != "" || session(t, w).Pairing.Open {
		t.Fatalf("foreign host got %d %s", w.Code, w.Body.String())
	}
	if w := get(t, h, "/pairing.png", evil); w.Code != 403 {
		t.Fatalf("foreign host pairing.png: %d", w.Code)
	}
	// The box's own names are fine.
	if s := session(t, get(t, h, "/api/session", map[string]string{"Host": "garage-box.local:8765"})); s.Token == "" {
		t.Fatalf("own name: %+v", s)
	}

	c.t = c.t.Add(11 * time.Minute) // window closed
	w = get(t, h, "/api/session", nil)
	s = session(t, w)
	if w.Code != 401 || s.Pairing.Open || s.Token != "" || s.URL != "" || !strings.Contains(s.Pairing.Hint, "press the pairing button (Pair)") ||
		!strings.Contains(s.Pairing.Hint, "sudo meshbox pair") {
		t.Fatalf("closed window: %d %+v", w.Code, s)
	}
	w = get(t, h, "/pairing.png", nil)
	if w.Code != 403 || !strings.Contains(w.Body.String(), "meshbox pair") {
		t.Fatalf("pairing.png while closed: %d %s", w.Code, w.Body.String())
	}
	// A member token gets its session, no new token, and still no QR.
	for _, tok := range []string{testToken, p.Token} {
		w := get(t, h, "/api/session", map[string]string{"Authorization": "Bearer " + tok})
		if s := session(t, w); w.Code != 200 || !s.Member || s.Token != "" || s.URL == "" {
			t.Fatalf("member session: %d %+v", w.Code, s)
		}
		if w := get(t, h, "/pairing.png?token="+tok, nil); w.Code != 403 {
			t.Fatalf("QR for a member outside the window: %d", w.Code)
		}
	}
	// The owner credential is not a member token.
	if w := get(t, h, "/api/session", map[string]string{"Authorization": "Bearer " + ownerToken(t, h)}); w.Code != 401 {
		t.Fatalf("owner credential as member: %d", w.Code)
	}
	// Unused pairing tokens died with the window.
	if _, ok := st.Lookup(pageTok); ok {
		// the page token was never used by the relay: pending, expired
		t.Fatal("an unused page token works after the window closed")
	}
	// The pairing button reopens it.
	h.opts.Pairing.OpenBy("the pairing button")
	if s := session(t, get(t, h, "/api/session", nil)); !s.Pairing.Open || s.Token == "" {
		t.Fatal("reopened window not honoured")
	}
}

// TestLayoutJSONToken (finding 9): /layout.json carries a pairing token
// while pairing is open for a request addressed to the box, never for a
// foreign Host, and after the window closed only a member gets the wiring.
func TestLayoutJSONToken(t *testing.T) {
	c := &clock{t: time.Now()}
	h := newTestHandler(t, c, nil)
	w := get(t, h, "/layout.json", nil)
	var l struct {
		Connection struct{ Token *string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil || w.Code != 200 || l.Connection.Token == nil ||
		*l.Connection.Token == testToken || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("layout while pairing is open: %d %s", w.Code, w.Body.String())
	}
	if w := get(t, h, "/layout.json", map[string]string{"Host": "attacker.example:8765"}); w.Code != 401 || strings.Contains(w.Body.String(), "wiring") {
		t.Fatalf("layout for a foreign host: %d %s", w.Code, w.Body.String())
	}
	c.t = c.t.Add(time.Hour)
	if w := get(t, h, "/layout.json", nil); w.Code != 401 || strings.Contains(w.Body.String(), "wiring") {
		t.Fatalf("layout without credentials after pairing closed: %d %s", w.Code, w.Body.String())
	}
	if w := get(t, h, "/layout.json", map[string]string{"Authorization": "Bearer nope"}); w.Code != 401 {
		t.Fatalf("layout with a wrong token: %d", w.Code)
	}
	if w := get(t, h, "/layout.json", map[string]string{"Authorization": "Bearer " + testToken}); w.Code != 200 || !strings.Contains(w.Body.String(), "wiring") {
		t.Fatalf("layout with the token: %s", w.Body.String())
	}
}

// TestOwnerAPI: the owner credential runs the owner's operations; a member
// token (hub or phone) gets 403, none or a wrong one 401, and many wrong
// ones 429.
func TestOwnerAPI(t *testing.T) {
	c := &clock{t: time.Now()}
	h := newTestHandler(t, c, nil)
	h.opts.Pairing.Close()
	post := func(cred, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/api/owner", strings.NewReader(body))
		r.Host = "192.168.1.50:8765"
		if cred != "" {
			r.Header.Set("Authorization", "Bearer "+cred)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	owner := ownerToken(t, h)
	phone, _, err := store(h).Mint(auth.ScopeController, "phone")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{phone, testToken} {
		if w := post(tok, `{"op":"tokens"}`); w.Code != 403 {
			t.Fatalf("member token on the owner API: %d", w.Code)
		}
	}
	if w := post("", `{"op":"pair"}`); w.Code != 401 || h.opts.Pairing.Open() {
		t.Fatalf("no credential: %d", w.Code)
	}
	w := post(owner, `{"op":"viewer","label":"tablet","png":true}`)
	var resp pairing.Response
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || w.Code != 200 || resp.Pairing.Role != "viewer" || len(resp.QRPNG) == 0 {
		t.Fatalf("viewer: %d %s", w.Code, w.Body.String())
	}
	if p := decodePNG(t, resp.QRPNG); p.Token != resp.Pairing.Token || p.Role != "viewer" {
		t.Fatalf("viewer QR %+v", p)
	}
	if strings.Contains(w.Body.String(), owner) {
		t.Fatal("the owner credential is in a response")
	}
	w = post(owner, `{"op":"tokens"}`)
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || len(resp.Tokens) != 2 {
		t.Fatalf("tokens: %s", w.Body.String())
	}
	if w := post(owner, `{"op":"revoke","id":"`+resp.Tokens[0].ID+`"}`); w.Code != 200 {
		t.Fatalf("revoke: %d %s", w.Code, w.Body.String())
	}
	if _, ok := store(h).Lookup(phone); ok {
		t.Fatal("revoked phone still works")
	}
	if w := post(owner, `{"op":"pair"}`); w.Code != 200 || !h.opts.Pairing.Open() {
		t.Fatalf("owner pair: %d", w.Code)
	}
	// The relay's weak-token warning reaches the owner's page.
	h.opts.Admin.Warning = func() string { return "the configured token is shorter than 16 characters" }
	if w := post(owner, `{"op":"status"}`); !strings.Contains(w.Body.String(), `"warning":"the configured token is shorter than 16 characters"`) {
		t.Fatalf("status without the relay's warning: %s", w.Body.String())
	}
	if w := post(owner, `{"op":"bogus"}`); w.Code != 400 {
		t.Fatalf("bad op: %d", w.Code)
	}
	for range ownerFailures {
		post("wrong", `{"op":"tokens"}`)
	}
	if w := post(owner, `{"op":"tokens"}`); w.Code != 429 {
		t.Fatalf("after %d wrong credentials: %d", ownerFailures, w.Code)
	}
}

// TestMetricsDoNotTellPairing (finding 9) lives with the metrics in the box:
// the page only writes what it is given.

func TestHealthzAndMetrics(t *testing.T) {
	c := &clock{t: time.Now()}
	var down error
	h := newTestHandler(t, c, func() error { return down })
	if w := get(t, h, "/healthz", nil); w.Code != 200 || w.Body.String() != "ready\n" {
		t.Fatalf("healthz: %d %q", w.Code, w.Body.String())
	}
	down = errors.New("the bridge has not joined the relay")
	if w := get(t, h, "/healthz", nil); w.Code != 503 || !strings.Contains(w.Body.String(), "bridge has not joined") {
		t.Fatalf("healthz down: %d %q", w.Code, w.Body.String())
	}
	w := get(t, h, "/metrics", nil)
	want := "# HELP meshbox_relay_connections Open.\n# TYPE meshbox_relay_connections gauge\nmeshbox_relay_connections 3\n"
	if w.Body.String() != want || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics:\n%s\nwant:\n%s", w.Body.String(), want)
	}
}

func TestHostAllowedAndSameOrigin(t *testing.T) {
	names := []string{"box.local", "Garage"}
	for host, want := range map[string]bool{
		"192.168.1.5:8765": true, "[fe80::1]:8765": true, "localhost:8765": true, "box.local:8765": true,
		"BOX.LOCAL.": true, "garage": true, "evil.com:8765": false, "": false, "192.168.1.5.evil.com": false,
	} {
		if got := HostAllowed(host, names); got != want {
			t.Errorf("HostAllowed(%q) = %v", host, got)
		}
	}
	req := func(host, origin string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return r
	}
	cases := []struct {
		host, origin string
		want         bool
	}{
		{"10.0.0.2:8765", "http://10.0.0.2:8765", true},
		{"box.local:8765", "http://box.local:8765", true},
		{"10.0.0.2:8765", "http://10.0.0.2:9999", false},
		{"10.0.0.2:8765", "http://evil.com", false},
		{"evil.com:8765", "http://evil.com:8765", false}, // DNS rebinding
		{"10.0.0.2:8765", "", false},
		{"10.0.0.2:8765", "file://", false},
	}
	for _, c := range cases {
		if got := SameOrigin(req(c.host, c.origin), names); got != c.want {
			t.Errorf("SameOrigin(%q, %q) = %v", c.host, c.origin, got)
		}
	}
}

// TestWithRelayOrigins runs the real relay behind WithRelay: the page's own
// origin is admitted, a foreign origin is refused by the relay (1008), and
// plain GETs reach the page.
func TestWithRelayOrigins(t *testing.T) {
	c := &clock{t: time.Now()}
	h := newTestHandler(t, c, nil)
	rs := relay.New(relay.Config{AuthToken: testToken}, nil)
	srv := httptest.NewServer(h.WithRelay(rs))
	defer srv.Close()
	defer rs.Close(t.Context())
	host := strings.TrimPrefix(srv.URL, "http://")

	dial := func(origin string) error {
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		ph, err := phonetest.TryDial(t, "ws://"+host+"/", phonetest.Options{Name: "page-x", Channel: "home", Token: testToken, Header: hdr})
		if err == nil {
			ph.Close()
		}
		return err
	}
	if err := dial("http://" + host); err != nil {
		t.Fatalf("own origin: %v", err)
	}
	err := dial("http://evil.example")
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1008 {
		t.Fatalf("foreign origin: %v", err)
	}
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ready\n" {
		t.Fatalf("healthz through WithRelay: %q", body)
	}
}

// TestSessionWarning: the page's warning (a loopback-only relay) reaches the
// script through /api/session; none by default.
func TestSessionWarning(t *testing.T) {
	c := &clock{t: time.Now()}
	if s := session(t, get(t, newTestHandler(t, c, nil), "/api/session", nil)); s.Warning != "" {
		t.Fatalf("warning without one configured: %q", s.Warning)
	}
	h := New(Options{Name: "x", URL: "ws://192.168.1.50:8765", OpenRelay: true, Warning: "the relay listens on 127.0.0.1 only"})
	if s := session(t, get(t, h, "/api/session", nil)); s.Warning != "the relay listens on 127.0.0.1 only" {
		t.Fatalf("warning %q", s.Warning)
	}
}

// TestEncryptedRoomKeyGoesWithTheToken: the room key is in the QR ("k")
// and in /api/session ("key") exactly when a member token is; a rotated key
// re-renders the QR.
func TestEncryptedRoomKeyGoesWithTheToken(t *testing.T) {
	c := &clock{t: time.Now()}
	h := newTestHandler(t, c, nil)
	key := "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	h.opts.E2EEKey = func() string { return key }
	s := session(t, get(t, h, "/api/session", nil))
	if !s.E2EE || s.Key != key || s.Token == "" {
		t.Fatalf("open window: %+v", s)
	}
	p := decodePNG(t, get(t, h, "/pairing.png", nil).Body.Bytes())
	if p.K != key || p.Token == "" {
		t.Fatalf("QR = %+v", p)
	}
	key = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
	if p := decodePNG(t, get(t, h, "/pairing.png", nil).Body.Bytes()); p.K != key {
		t.Fatalf("QR after rotation = %+v", p)
	}
	if s := session(t, get(t, h, "/api/session", map[string]string{"Host": "attacker.example:8765"})); s.Key != "" || !s.E2EE {
		t.Fatalf("foreign host got the key: %+v", s)
	}
	c.t = c.t.Add(11 * time.Minute)
	if s := session(t, get(t, h, "/api/session", nil)); s.Key != "" || s.Token != "" || !s.E2EE {
		t.Fatalf("closed window: %+v", s)
	}
	if s := session(t, get(t, h, "/api/session", map[string]string{"Authorization": "Bearer " + testToken})); s.Key != key {
		t.Fatalf("token holder did not get the key: %+v", s)
	}
}

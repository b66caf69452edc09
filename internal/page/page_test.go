package page

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/relay"
)

const testToken = "page-secret-token"

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestHandler(t *testing.T, c *clock, health func() error) *Handler {
	t.Helper()
	return New(Options{
		Name: "garage", URL: "ws://192.168.1.50:8765", Channel: "home", Token: testToken,
		Window: pairing.NewWindow(10*time.Minute, false, c.now), PairingButton: "Pair",
		Hosts: []string{"garage-box.local"},
		Layout: func(withToken bool) ([]byte, error) {
			if withToken {
				return []byte(`{"name":"garage","connection":{"token":"` + testToken + `"}}`), nil
			}
			return []byte(`{"name":"garage","connection":{"token":null}}`), nil
		},
		Health: health,
		Metrics: func(w io.Writer) error {
			_, err := io.WriteString(w, "# HELP meshbox_relay_connections Open.\n# TYPE meshbox_relay_connections gauge\nmeshbox_relay_connections 3\n")
			return err
		},
	})
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

func TestSessionAndQRFollowThePairingWindow(t *testing.T) {
	c := &clock{t: time.Now()}
	h := newTestHandler(t, c, nil)

	s := session(t, get(t, h, "/api/session", nil))
	if !s.Pairing.Open || s.Token != testToken || !s.Auth || s.Pairing.Until == "" || s.PageURL != "http://192.168.1.50:8765" {
		t.Fatalf("open window: %+v", s)
	}
	w := get(t, h, "/pairing.png", nil)
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("pairing.png while open: %d", w.Code)
	}
	img, err := png.Decode(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"url":"ws://192.168.1.50:8765","channel":"home","role":"controller","token":"` + testToken + `"}`
	if res.GetText() != want {
		t.Fatalf("QR = %s", res.GetText())
	}
	// A DNS-rebinding page (foreign Host) gets nothing, even while open.
	evil := map[string]string{"Host": "attacker.example:8765"}
	if s := session(t, get(t, h, "/api/session", evil)); s.Token != "" || s.Pairing.Open {
		t.Fatalf("foreign host got %+v", s)
	}
	if w := get(t, h, "/pairing.png", evil); w.Code != 403 {
		t.Fatalf("foreign host pairing.png: %d", w.Code)
	}
	// The box's own names are fine.
	if s := session(t, get(t, h, "/api/session", map[string]string{"Host": "garage-box.local:8765"})); s.Token != testToken {
		t.Fatalf("own name: %+v", s)
	}

	c.t = c.t.Add(11 * time.Minute) // window closed
	s = session(t, get(t, h, "/api/session", nil))
	if s.Pairing.Open || s.Token != "" || !strings.Contains(s.Pairing.Hint, "press the pairing button (Pair)") ||
		!strings.Contains(s.Pairing.Hint, "meshbox qr") {
		t.Fatalf("closed window: %+v", s)
	}
	w = get(t, h, "/pairing.png", nil)
	if w.Code != 403 || !strings.Contains(w.Body.String(), "meshbox qr") {
		t.Fatalf("pairing.png while closed: %d %s", w.Code, w.Body.String())
	}
	// Knowing the token opens everything.
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	if s := session(t, get(t, h, "/api/session", auth)); s.Token != testToken {
		t.Fatal("bearer token not honoured")
	}
	if w := get(t, h, "/pairing.png?token="+testToken, nil); w.Code != 200 {
		t.Fatalf("?token= not honoured: %d", w.Code)
	}
	if w := get(t, h, "/pairing.png", map[string]string{"Authorization": "Bearer wrong"}); w.Code != 403 {
		t.Fatal("wrong token accepted")
	}
	// The pairing button reopens it.
	h.opts.Window.Open()
	if s := session(t, get(t, h, "/api/session", nil)); !s.Pairing.Open || s.Token != testToken {
		t.Fatal("reopened window not honoured")
	}
}

// TestLayoutJSONToken: /layout.json carries the token while pairing is
// open (like the QR) for a request addressed to the box, never for a
// foreign Host, and not after the window closed unless the request proves
// it knows the token.
func TestLayoutJSONToken(t *testing.T) {
	c := &clock{t: time.Now()}
	h := newTestHandler(t, c, nil)
	if w := get(t, h, "/layout.json", nil); w.Code != 200 || !strings.Contains(w.Body.String(), testToken) ||
		w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("layout while pairing is open: %d %s", w.Code, w.Body.String())
	}
	if w := get(t, h, "/layout.json", map[string]string{"Host": "attacker.example:8765"}); strings.Contains(w.Body.String(), testToken) ||
		!strings.Contains(w.Body.String(), `"token":null`) {
		t.Fatalf("layout for a foreign host: %s", w.Body.String())
	}
	c.t = c.t.Add(time.Hour)
	if w := get(t, h, "/layout.json", nil); w.Code != 200 || strings.Contains(w.Body.String(), testToken) {
		t.Fatalf("layout without credentials: %d %s", w.Code, w.Body.String())
	}
	if w := get(t, h, "/layout.json", map[string]string{"Authorization": "Bearer " + testToken}); !strings.Contains(w.Body.String(), testToken) {
		t.Fatalf("layout with the token: %s", w.Body.String())
	}
}

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
	h := New(Options{Name: "x", URL: "ws://192.168.1.50:8765", Warning: "the relay listens on 127.0.0.1 only"})
	if s := session(t, get(t, h, "/api/session", nil)); s.Warning != "the relay listens on 127.0.0.1 only" {
		t.Fatalf("warning %q", s.Warning)
	}
}

// TestEncryptedRoomKeyGoesWithTheToken: the room key is in the QR ("k")
// and in /api/session ("key") exactly when the token is; a rotated key
// re-renders the QR.
func TestEncryptedRoomKeyGoesWithTheToken(t *testing.T) {
	c := &clock{t: time.Now()}
	h := newTestHandler(t, c, nil)
	key := "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	h.opts.E2EEKey = func() string { return key }
	s := session(t, get(t, h, "/api/session", nil))
	if !s.E2EE || s.Key != key || s.Token != testToken {
		t.Fatalf("open window: %+v", s)
	}
	qr := func() string {
		w := get(t, h, "/pairing.png", nil)
		img, err := png.Decode(bytes.NewReader(w.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
		res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.GetText()
	}
	want := `{"url":"ws://192.168.1.50:8765","channel":"home","role":"controller","token":"` + testToken + `","k":"` + key + `"}`
	if got := qr(); got != want {
		t.Fatalf("QR = %s", got)
	}
	key = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
	if got := qr(); !strings.Contains(got, `"k":"`+key+`"`) {
		t.Fatalf("QR after rotation = %s", got)
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

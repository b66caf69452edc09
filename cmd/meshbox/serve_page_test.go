package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/pairing"
)

func httpGet(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func decodePNG(t *testing.T, b []byte) pairing.Payload {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	var p pairing.Payload
	if err := json.Unmarshal([]byte(res.GetText()), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServePage checks the page's wiring in serve: health once the bridge
// joined, the layout, the pairing QR, metrics, and the page's own origin
// admitted by the relay while foreign origins are not.
func TestServePage(t *testing.T) {
	const tok = "serve-page-token-123"
	addr, _, logs := startServe(t, map[string]string{"MESH_AUTH_TOKEN": tok}, "-sim", "-listen", "127.0.0.1:1")
	base := "http://" + addr
	var code int
	var body []byte
	for i := 0; i < 100; i++ {
		if code, body = httpGet(t, base+"/healthz", ""); code == 200 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code != 200 || string(body) != "ready\n" {
		t.Fatalf("healthz: %d %q\n%s", code, body, logs)
	}
	if code, body = httpGet(t, base+"/", ""); code != 200 || !bytes.Contains(body, []byte("/assets/app.js")) {
		t.Fatalf("GET /: %d", code)
	}
	code, body = httpGet(t, base+"/layout.json", tok)
	if code != 200 {
		t.Fatalf("layout.json: %d", code)
	}
	if err := layout.Validate(body, nil); err != nil {
		t.Fatalf("served layout: %v", err)
	}
	var l layout.Layout
	if err := json.Unmarshal(body, &l); err != nil || l.Connection == nil || l.Connection.Token == nil || *l.Connection.Token != tok {
		t.Fatalf("layout connection: %s", body)
	}
	code, body = httpGet(t, base+"/pairing.png", "")
	if code != 200 {
		t.Fatalf("pairing.png during the boot window: %d", code)
	}
	// A controller token minted for pairing, never the hub token.
	if p := decodePNG(t, body); p.Token == "" || p.Token == tok || p.Channel != "home" || p.Role != "controller" || !strings.HasPrefix(p.URL, "ws://") ||
		strings.Contains(p.URL, "127.0.0.1") {
		t.Fatalf("pairing payload %+v", p)
	}
	// -listen 127.0.0.1: one WARN at start, the same warning on the page;
	// the QR keeps the LAN URL (checked above).
	const warn = "the relay listens on 127.0.0.1 only: phones on the LAN cannot reach it; use -listen :1"
	if n := strings.Count(logs.String(), warn); n != 1 || !strings.Contains(logs.String(), "level=WARN msg=\""+warn) {
		t.Fatalf("loopback warning logged %d times:\n%s", n, logs)
	}
	var sess struct {
		Warning string `json:"warning"`
	}
	if _, body = httpGet(t, base+"/api/session", ""); json.Unmarshal(body, &sess) != nil ||
		sess.Warning != "the relay listens on 127.0.0.1 only: phones on the LAN cannot reach it; use `-listen :1`" {
		t.Fatalf("session warning: %s", body)
	}
	if !regexp.MustCompile(`msg="pairing open at boot" component=page for=(10m0s|9m[0-5]\ds) until=\d\d:\d\d:\d\d`).MatchString(logs.String()) {
		t.Errorf("the boot pairing window is not logged:\n%s", logs)
	}
	if _, body = httpGet(t, base+"/metrics", ""); !bytes.Contains(body, []byte(`meshbox_output_switches_total{output="lamp"} 0`)) ||
		bytes.Contains(body, []byte("pairing")) || // finding 9: the LAN does not learn when pairing is open
		!bytes.Contains(body, []byte("meshbox_relay_members 1")) ||
		!bytes.Contains(body, []byte(`meshbox_build_info{version="`+version+`"} 1`)) {
		t.Fatalf("metrics:\n%s", body)
	}

	dial := func(origin string) error {
		hdr := http.Header{"Origin": {origin}}
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/", hdr)
		if err != nil {
			return err
		}
		defer ws.Close()
		_ = ws.WriteJSON(map[string]any{"id": "1", "type": "identify", "reply_to": nil,
			"payload": map[string]any{"name": "page-test", "channel": "home", "token": tok}})
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var f map[string]any
		if err := ws.ReadJSON(&f); err != nil {
			return err
		}
		if f["type"] != "welcome" {
			t.Fatalf("got %v", f)
		}
		return nil
	}
	if err := dial(base); err != nil {
		t.Fatalf("the page's own origin was refused: %v", err)
	}
	if err := dial("http://evil.example"); err == nil {
		t.Fatal("a foreign origin was admitted")
	} else if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1008 {
		t.Fatalf("foreign origin: %v", err)
	}
}

// TestServePairingButton: the pairing window closes after its configured
// length, and pressing the configured pairing input opens it again.
func TestServePairingButton(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "meshbox.yaml")
	cfgText := "name: pairtest\nboard: pi4\noutputs:\n  - {id: lamp, pin: 17}\n" +
		"inputs:\n  - {id: pair, label: Pair button, pin: 26, active_low: true, pairing: true}\npairing:\n  window: 1s\nmdns:\n  disabled: true\n"
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	board := simhost.New(simhost.Options{Seed: 1, Empty: true})
	t.Cleanup(func() { board.Close() }) // after serve stops (cleanups run last-in first-out)
	addr, _, logs := startServeOn(t, board, map[string]string{"MESH_AUTH_TOKEN": "pair-token-123456", "MESHBOX_STATE_DIR": dir},
		"-sim", "-config", cfgPath)
	base := "http://" + addr
	sessionOpen := func() (bool, string) {
		code, body := httpGet(t, base+"/api/session", "")
		if code != 200 {
			return false, ""
		}
		var s struct {
			Pairing struct{ Open bool } `json:"pairing"`
			Token   string              `json:"token"`
		}
		_ = json.Unmarshal(body, &s)
		return s.Pairing.Open, s.Token
	}
	waitFor := func(want bool) {
		t.Helper()
		for i := 0; i < 200; i++ {
			if open, tok := sessionOpen(); open == want && (tok != "") == want {
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
		t.Fatalf("pairing never became open=%v", want)
	}
	waitFor(false) // the 1s boot window closed
	if code, body := httpGet(t, base+"/pairing.png", ""); code != 403 || !bytes.Contains(body, []byte("Pair button")) {
		t.Fatalf("pairing.png while closed: %d %s", code, body)
	}
	if err := board.Press(gpio.Line{Offset: 26}); err != nil {
		t.Fatal(err)
	}
	waitFor(true)
	for _, want := range []string{
		"msg=\"pairing closed; press the pairing button or run `sudo meshbox pair` to pair\" component=page button=\"Pair button\"",
		`msg="pairing opened by the pairing button" component=page for=1s`,
	} {
		for i := 0; i < 100 && !strings.Contains(logs.String(), want); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(logs.String(), "listens on") {
		t.Error("loopback warning for the default listen address")
	}
}

// TestLogPairing: one INFO line per pairing change.

package page

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/meshbox/meshbox/internal/auth"
	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/wire"
)

func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found (CI installs the Debian package chromium)")
	}
	t.Skip("chromium not installed (apt-get install chromium); skipping the browser test")
	return ""
}

// box is the whole appliance in-process on the simulated board: relay,
// bridge joined through the relay's pipe, layout and page on one port.
type box struct {
	board  *simhost.Board
	bridge *bridge.Bridge
	url    string          // http://127.0.0.1:PORT
	pay    pairing.Payload // without a token
	pushes chan layout.PushResult
	store  *auth.Store
}

// startBox runs the box with token as its hub token and window as its
// pairing window (the phone tokens live in a real store).
func startBox(t *testing.T, ctx context.Context, token string, window *pairing.Window, warning string) *box {
	t.Helper()
	return startBoxWith(t, ctx, token, window, warning, nil)
}

// startBoxWith is startBox; with room set the room is encrypted: the
// bridge joins with the codec, the layout and the page carry the key and
// the pushed layout is sealed.
func startBoxWith(t *testing.T, ctx context.Context, token string, window *pairing.Window, warning string, room *e2ee.Codec) *box {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	cfg := config.Demo()
	cfg.StateDir = t.TempDir()
	board := simhost.New(simhost.Options{Seed: 7})
	t.Cleanup(func() { board.Close() })
	store, err := auth.Open(auth.Options{Dir: cfg.StateDir, HubToken: token, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mgr := pairing.NewManager(window, store, log)
	rs := relay.New(relay.Config{AuthToken: token, Credentials: store.Relay()}, log)
	b, err := bridge.New(cfg, board, bridge.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = b.Run(runCtx) }()

	var h *Handler
	srv := httptest.NewServer(nil)
	srv.Config.Handler = nil
	host := strings.TrimPrefix(srv.URL, "http://")
	pay := pairing.Payload{URL: "ws://" + host, Channel: "home", Role: pairing.DefaultRole}
	jo := bridge.JoinOptions{Token: token, Logger: log,
		Dial: func(ctx context.Context) (wire.Transport, error) { return rs.Pipe(ctx, "127.0.0.1:1") }}
	keyOf := func() string { return "" }
	if room != nil {
		jo.Cipher = room
		keyOf = func() string { return room.Key().String() }
		pay.K = keyOf()
	}
	member, err := b.Join(ctx, jo)
	if err != nil {
		t.Fatal(err)
	}
	l, err := layout.Generate(cfg, layout.Options{URL: pay.URL, E2EEKey: keyOf()})
	if err != nil {
		t.Fatal(err)
	}
	admin := &pairing.Admin{Manager: mgr, Store: store, Logger: log,
		Payload: func(tok, role string) pairing.Payload {
			p := pay
			p.Token, p.Role = tok, role
			return p
		},
		Warning: func() string { return strings.Join(rs.Warnings(), "; ") },
		Revoked: func(auth.Token) error { rs.Revalidate(); return nil }}
	h = New(Options{Name: cfg.Name, URL: pay.URL, Channel: "home", Credentials: store, Pairing: mgr, Admin: admin,
		Logger: log, PairingButton: "Button", Warning: warning, E2EEKey: keyOf,
		Layout: func(tok string) ([]byte, error) { return l.WithToken(tok).JSON() }})
	srv.Config.Handler = h.WithRelay(rs)
	pushes := make(chan layout.PushResult, 16)
	po := layout.PushOptions{Client: member.Client, Self: member.Client.Name(), Channel: "home",
		Layout: func() *layout.Layout { return l.Pushed() }, Interval: 200 * time.Millisecond, Logger: log,
		OnResult: func(r layout.PushResult) {
			select {
			case pushes <- r:
			default:
			}
		}}
	if room != nil {
		po.Seal = room.Seal
		po.Open = func(raw json.RawMessage) (json.RawMessage, error) {
			if pt, ok := room.Open("apply-layout reply", raw); ok {
				return pt, nil
			}
			return raw, nil
		}
	}
	pusher := layout.NewPusher(po)
	pushDone := make(chan struct{})
	go func() { defer close(pushDone); _ = pusher.Run(runCtx) }()
	t.Cleanup(func() {
		srv.Close()
		member.Close()
		stop()
		<-runDone
		<-pushDone
		b.Shutdown()
		_ = rs.Close(context.Background())
	})
	return &box{board: board, bridge: b, url: srv.URL, pay: pay, pushes: pushes, store: store}
}

// imagePNG is the image an <img> shows, at its natural size, as PNG bytes
// (drawn onto a canvas in the page): the QR's own pixels, not a scaled
// screenshot, so decoding does not depend on the viewport or the machine.
func imagePNG(bctx context.Context, sel string) ([]byte, error) {
	url, err := chromedp.Run(bctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		const i = document.querySelector(%q);
		const c = document.createElement('canvas');
		c.width = i.naturalWidth; c.height = i.naturalHeight;
		c.getContext('2d').drawImage(i, 0, 0);
		return c.toDataURL('image/png'); })()`, sel)))
	if err != nil {
		return nil, err
	}
	b64, ok := strings.CutPrefix(url, "data:image/png;base64,")
	if !ok {
		return nil, fmt.Errorf("%s: not a PNG data URL: %.40s", sel, url)
	}
	return base64.StdEncoding.DecodeString(b64)
}

func decodeQR(t *testing.T, pngBytes []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		// The PNG is a pure QR code (quiet zone, no perspective): the
		// finder-pattern search misses some random contents ("NotFound
		// dimension = 47"); read it as the pure barcode it is.
		for _, h := range []gozxing.DecodeHintType{gozxing.DecodeHintType_PURE_BARCODE, gozxing.DecodeHintType_TRY_HARDER} {
			if res, err = zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{h: true}); err == nil {
				break
			}
		}
	}
	if err != nil {
		t.Fatalf("the page's QR does not decode: %v", err)
	}
	return res.GetText()
}

// TestBrowser drives the page in headless Chromium: it loads, shows a QR that
// decodes to the pairing JSON, a click on a switch drives the simulated
// output, and state changed elsewhere is pushed back into the page.
func TestBrowser(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const token = "browser-test-token"
	bx := startBox(t, ctx, token, pairing.NewWindow(10*time.Minute, false, nil), "")

	bctx := newBrowser(t, ctx, chrome)

	if err := chromedp.Do(bctx,
		chromedp.Navigate(bx.url+"/"),
		chromedp.WaitVisible(`#conn[data-state="online"]`),
	); err != nil {
		t.Fatalf("page did not connect: %v", err)
	}
	if name, err := chromedp.Run(bctx, chromedp.Text(`#box-name`)); err != nil || name != "meshbox" {
		t.Errorf("box name %q, %v", name, err)
	}

	// The box pushes its layout to the page like to a phone; the page
	// renders it and answers ok with what it rendered.
	select {
	case r := <-bx.pushes:
		if !strings.HasPrefix(r.Member.Name, "page-") || !r.OK || !strings.Contains(string(r.Rendered), `"tabs":3`) {
			t.Fatalf("apply-layout to the page: %+v %s", r, r.Rendered)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the layout was never pushed to the page")
	}

	// The QR as the page shows it.
	if err := chromedp.Do(bctx,
		chromedp.WaitVisible(`#pairing-open`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`document.getElementById('qr').naturalWidth > 0`)(ctx, tg)
			return err
		}),
	); err != nil {
		t.Fatal(err)
	}
	qr, err := imagePNG(bctx, `#qr`)
	if err != nil {
		t.Fatal(err)
	}
	var got pairing.Payload
	if err := json.Unmarshal([]byte(decodeQR(t, qr)), &got); err != nil {
		t.Fatal(err)
	}
	if got.URL != bx.pay.URL || got.Channel != "home" || got.Role != "controller" || got.Token == "" || got.Token == token {
		t.Fatalf("QR = %+v (a controller token, never the hub token)", got)
	}
	if sc, ok := bx.store.Lookup(got.Token); !ok || sc != auth.ScopeController {
		t.Fatalf("the QR's token is not a controller token: %v %v", sc, ok)
	}
	// The page keeps the token it was given while pairing was open.
	if stored, err := chromedp.Run(bctx, chromedp.Evaluate[string](`localStorage.getItem('meshbox.token') || ''`)); err != nil ||
		stored == "" || stored == token || stored == got.Token {
		t.Fatalf("page token %q (%v): want its own controller token", stored, err)
	}

	// Click the lamp's switch: the simulated output goes high, and the
	// state the bridge broadcasts comes back into the page.
	lamp := gpio.Line{Offset: 17}
	if lvl, _ := bx.board.OutputLevel(lamp); lvl {
		t.Fatal("lamp on before the click")
	}
	if err := chromedp.Do(bctx, chromedp.WaitEnabled(`[data-control="lamp"] input[type=checkbox]`),
		chromedp.Click(`[data-control="lamp"] input[type=checkbox]`, chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := bx.board.WaitOutput(wctx, lamp, true); err != nil {
		t.Fatalf("clicking the switch did not drive the output: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(`[data-control="lamp"] .val[data-value="true"]`)); err != nil {
		t.Fatal(err)
	}

	// Changed elsewhere (another phone, a button): pushed to the page.
	if _, err := bx.bridge.Apply(ctx, "fan", true, "test"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(`[data-control="fan"] .val[data-value="true"]`)); err != nil {
		t.Fatal(err)
	}
	if checked, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.querySelector('[data-control="fan"] input').checked`)); err != nil || !checked {
		t.Errorf("fan switch not checked after the pushed state (%v)", err)
	}

	// Slider -> PWM duty, and the state comes back.
	if err := chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.querySelector('[data-control="dimmer"] input[type=range]');
		s.value = 60; s.dispatchEvent(new Event('change')); })()`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(`[data-control="dimmer"] .val[data-value="60"]`)); err != nil {
		t.Fatalf("slider state not pushed back: %v", err)
	}
	if _, duty, _, ok := bx.board.PWMState(gpio.PWMRef{Pin: 18}); ok && (duty < 0.59 || duty > 0.61) {
		t.Errorf("PWM duty %v after the slider moved to 60", duty)
	}

	// Live sensor values arrive.
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](
		`(() => { const v = document.querySelector('[data-control="climate_temperature"] .val').dataset.value; return v !== '' && !isNaN(+v); })()`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("no sensor value on the page: %v", err)
	}

	if dir := os.Getenv("MESHBOX_SCREENSHOTS"); dir != "" {
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(1200, 900),
			chromedp.Reload(), chromedp.WaitVisible(`#conn[data-state="online"]`), chromedp.Sleep(2*time.Second)); err == nil {
			screenshot(t, bctx, dir, "page.png")
		}
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
			chromedp.Reload(), chromedp.WaitVisible(`#conn[data-state="online"]`), chromedp.Sleep(2*time.Second)); err == nil {
			screenshot(t, bctx, dir, "page-mobile.png")
		}
	}
}

// screenshot saves the viewport (set MESHBOX_SCREENSHOTS=DIR to look at the
// page; nothing is written otherwise).
func screenshot(t *testing.T, bctx context.Context, dir, name string) {
	t.Helper()
	img, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), img, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	fmt.Fprintln(os.Stderr, "screenshot:", filepath.Join(dir, name))
}

func newBrowser(t *testing.T, ctx context.Context, chrome string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1000, 1500),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// TestBrowserPairingClosed, at phone width: outside the pairing window the
// page shows no QR and says how to open it (`meshbox qr` as code). Without
// the token it cannot know the outputs' state: every switch is drawn
// unknown (no position, '–') and disabled although the fan is on. The token
// typed into the page's field connects it; the switches then show the
// box's state and work. The header never breaks inside a word.
func TestBrowserPairingClosed(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const token = "closed-window-token"
	const warning = "the relay listens on 127.0.0.1 only: phones on the LAN cannot reach it; use `-listen :8765`"
	w := pairing.NewWindow(time.Minute, false, nil)
	w.Close()
	bx := startBox(t, ctx, token, w, warning)
	if _, err := bx.bridge.Apply(ctx, "fan", true, "test"); err != nil {
		t.Fatal(err)
	}
	bctx := newBrowser(t, ctx, chrome)
	if err := chromedp.Do(bctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(bx.url+"/"),
		chromedp.WaitVisible(`#pairing-closed`),
		chromedp.WaitVisible(`#login`),
	); err != nil {
		t.Fatal(err)
	}
	hint, err := chromedp.Run(bctx, chromedp.Text(`#pairing-closed`))
	if err != nil || !strings.Contains(hint, "press the pairing button (Button)") || !strings.Contains(hint, "sudo meshbox pair") ||
		strings.Contains(hint, "`") {
		t.Fatalf("hint %q, %v", hint, err)
	}
	if code, err := chromedp.Run(bctx, chromedp.Text(`#pairing-closed code`)); err != nil || code != "sudo meshbox pair" {
		t.Fatalf("hint code %q, %v", code, err)
	}
	if vis, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`!document.getElementById('pairing-open').hidden`)); err != nil || vis {
		t.Fatalf("QR shown while pairing is closed (%v)", err)
	}
	if got, err := chromedp.Run(bctx, chromedp.Text(`#warning`)); err != nil || got != strings.ReplaceAll(warning, "`", "") {
		t.Fatalf("warning banner %q, %v", got, err)
	}
	if got, err := chromedp.Run(bctx, chromedp.Text(`#warning code`)); err != nil || got != "-listen :8765" {
		t.Fatalf("warning banner code %q, %v", got, err)
	}
	// Header at 390 px: the channel and the host name each on one line.
	if broken, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`['#box-channel', '#box-name', '.addr .chan']
		.filter((s) => document.querySelector(s).getClientRects().length !== 1 ||
			document.querySelector(s).getBoundingClientRect().height > 1.6 * parseFloat(getComputedStyle(document.querySelector(s)).lineHeight || 20))`)); err != nil || len(broken) > 0 {
		t.Fatalf("header wraps inside %v (%v)", broken, err)
	}

	// Finding 9: without a member token the page gets no wiring.
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-control]').length`)); err != nil || n != 0 {
		t.Fatalf("%d controls shown without a token after pairing closed (%v)", n, err)
	}
	if dir := os.Getenv("MESHBOX_SCREENSHOTS"); dir != "" {
		screenshot(t, bctx, dir, "closed-mobile.png")
	}
	type toggleState struct {
		ID            string
		Known         string
		Disabled      bool
		Indeterminate bool
		Checked       bool
		Text          string
	}
	toggles := func() []toggleState {
		t.Helper()
		ts, err := chromedp.Run(bctx, chromedp.Evaluate[[]toggleState](`[...document.querySelectorAll('[data-type="toggle"]')].map((c) => {
			const i = c.querySelector('input');
			return { ID: c.dataset.control, Known: c.dataset.known, Disabled: i.disabled, Indeterminate: i.indeterminate,
				Checked: i.checked, Text: c.querySelector('.val').textContent };
		})`))
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}

	if err := chromedp.Do(bctx,
		chromedp.SendKeys(`#login-token`, token),
		chromedp.Click(`#login-form button[type=submit]`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#conn[data-state="online"]`),
		chromedp.WaitVisible(`#pairing-closed`), // a member gets no QR while pairing is closed
		// The box's state arrives: the fan is on, the pump off, both live.
		chromedp.WaitVisible(`[data-control="fan"][data-known="true"] .val[data-value="true"]`),
		chromedp.WaitVisible(`[data-control="pump"][data-known="true"] .val[data-value="false"]`),
		chromedp.WaitEnabled(`[data-control="pump"] input[type=checkbox]`),
	); err != nil {
		t.Fatal(err)
	}
	for _, c := range toggles() {
		if c.Known != "true" || c.Disabled || c.Indeterminate || c.Text == "–" {
			t.Errorf("live toggle %+v: want known and enabled", c)
		}
		if c.ID == "fan" && !c.Checked {
			t.Errorf("fan is on but drawn off: %+v", c)
		}
	}
	if dir := os.Getenv("MESHBOX_SCREENSHOTS"); dir != "" {
		screenshot(t, bctx, dir, "closed-live-mobile.png")
	}
	if err := chromedp.Do(bctx, chromedp.Click(`[data-control="pump"] input[type=checkbox]`, chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := bx.board.WaitOutput(wctx, gpio.Line{Offset: 22}, true); err != nil {
		t.Fatalf("pump not switched after login: %v", err)
	}
}

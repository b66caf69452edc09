package page

import (
	"bytes"
	"context"
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
	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
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
	url    string // http://127.0.0.1:PORT
	pay    pairing.Payload
	pushes chan layout.PushResult
}

func startBox(t *testing.T, ctx context.Context, token string, window *pairing.Window) *box {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	cfg := config.Demo()
	cfg.StateDir = t.TempDir()
	board := simhost.New(simhost.Options{Seed: 7})
	t.Cleanup(func() { board.Close() })
	rs := relay.New(relay.Config{AuthToken: token}, log)
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
	pay := pairing.Payload{URL: "ws://" + host, Channel: "home", Role: pairing.DefaultRole, Token: token}
	member, err := b.Join(ctx, bridge.JoinOptions{Token: token, Logger: log,
		Dial: func(ctx context.Context) (wire.Transport, error) { return rs.Pipe(ctx, "127.0.0.1:1") }})
	if err != nil {
		t.Fatal(err)
	}
	l, err := layout.Generate(cfg, layout.Options{URL: pay.URL, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	withTok, _ := l.JSON()
	noTok, _ := l.WithoutToken().JSON()
	h = New(Options{Name: cfg.Name, URL: pay.URL, Channel: "home", Token: token,
		Window: window, Logger: log, PairingButton: "Button",
		Layout: func(w bool) ([]byte, error) {
			if w {
				return withTok, nil
			}
			return noTok, nil
		}})
	srv.Config.Handler = h.WithRelay(rs)
	pushes := make(chan layout.PushResult, 16)
	pusher := layout.NewPusher(layout.PushOptions{Client: member.Client, Self: member.Client.Name(), Channel: "home",
		Layout: func() *layout.Layout { return l }, Interval: 200 * time.Millisecond, Logger: log,
		OnResult: func(r layout.PushResult) {
			select {
			case pushes <- r:
			default:
			}
		}})
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
	return &box{board: board, bridge: b, url: srv.URL, pay: pay, pushes: pushes}
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
	bx := startBox(t, ctx, token, pairing.NewWindow(10*time.Minute, false, nil))

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
	qr, err := chromedp.Run(bctx, chromedp.Screenshot(`#qr`, chromedp.NodeVisible))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := decodeQR(t, qr), string(bx.pay.JSON()); got != want {
		t.Fatalf("QR = %s\nwant %s", got, want)
	}

	// Click the lamp's switch: the simulated output goes high, and the
	// state the bridge broadcasts comes back into the page.
	lamp := gpio.Line{Offset: 17}
	if lvl, _ := bx.board.OutputLevel(lamp); lvl {
		t.Fatal("lamp on before the click")
	}
	if err := chromedp.Do(bctx, chromedp.Click(`[data-control="lamp"] input[type=checkbox]`, chromedp.NodeVisible)); err != nil {
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
		if full, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "page.png"), full, 0o644)
		}
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
			chromedp.Reload(), chromedp.WaitVisible(`#conn[data-state="online"]`), chromedp.Sleep(2*time.Second)); err == nil {
			if mobile, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
				_ = os.WriteFile(filepath.Join(dir, "page-mobile.png"), mobile, 0o644)
			}
		}
		fmt.Fprintln(os.Stderr, "screenshots in", dir)
	}
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

// TestBrowserPairingClosed: outside the pairing window the page shows no QR
// and says how to open it; the token typed into the page's field connects it.
func TestBrowserPairingClosed(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const token = "closed-window-token"
	w := pairing.NewWindow(time.Minute, false, nil)
	w.Close()
	bx := startBox(t, ctx, token, w)
	bctx := newBrowser(t, ctx, chrome)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(bx.url+"/"),
		chromedp.WaitVisible(`#pairing-closed`),
		chromedp.WaitVisible(`#login`),
	); err != nil {
		t.Fatal(err)
	}
	hint, err := chromedp.Run(bctx, chromedp.Text(`#pairing-closed`))
	if err != nil || !strings.Contains(hint, "press the pairing button (Button)") || !strings.Contains(hint, "meshbox qr") {
		t.Fatalf("hint %q, %v", hint, err)
	}
	if vis, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`!document.getElementById('pairing-open').hidden`)); err != nil || vis {
		t.Fatalf("QR shown while pairing is closed (%v)", err)
	}
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(`#login-token`, token),
		chromedp.Click(`#login-form button[type=submit]`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#conn[data-state="online"]`),
		chromedp.WaitVisible(`#pairing-open`), // the token holder may see the QR
		chromedp.Click(`[data-control="pump"] input[type=checkbox]`, chromedp.NodeVisible),
	); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := bx.board.WaitOutput(wctx, gpio.Line{Offset: 22}, true); err != nil {
		t.Fatalf("pump not switched after login: %v", err)
	}
}

package page

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meshbox/meshbox/internal/phonetest"
	"github.com/meshbox/meshbox/internal/relay"
	"github.com/meshbox/meshbox/internal/wire"
)

// gaugeLayout is one gauge (0–100) fed by the metrics of source "meter",
// drawn in an accent colour found nowhere else on the page.
const gaugeLayout = `{"name":"newcomer","version":1,"accentColor":"#ff00ff",
 "connection":{"url":"ws://192.0.2.1:8765","token":null,"identity":{"channel":"home","role":"controller"}},
 "tabs":[{"title":"Meter","grid":{"columns":4},"children":[
  {"type":"gauge","id":"level","position":[0,0],"span":[2,2],"label":"Level","min":0,"max":100,"gaugeStyle":"half",
   "sync":[{"method":"meshsocket","type":"listen","event":"broadcast","filter":{"msg_type":"metrics","source":"meter"},"valuePath":"level"}]}]}]}`

// TestBrowserNewcomerGaugeAndWarnings (issue #15 item 9), in headless
// Chromium on an open relay with no bridge, so that nothing but the test
// sends a value:
//   - a gauge without a reading draws nothing of its bar (no round-cap dot
//     at the minimum); a reading draws the bar; a value that goes away
//     (null) removes it again. Counted in the gauge's own pixels.
//   - two warnings in one banner are shown one per line, not joined.
func TestBrowserNewcomerGaugeAndWarnings(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const (
		warn1 = "the relay listens on 127.0.0.1 only: phones on the LAN cannot reach it; use `-listen :8765`"
		warn2 = "no GPIO chip was found: this wiring runs on SIMULATED hardware (made-up sensor values, no pin is driven)"
	)
	log := slog.New(slog.DiscardHandler)
	rs := relay.New(relay.Config{}, log) // open: no token
	h := New(Options{Name: "newcomer", URL: "ws://192.0.2.1:8765", Channel: "home", OpenRelay: true, Logger: log,
		Warning: warn1 + "\n" + warn2,
		Layout:  func(string) ([]byte, error) { return []byte(gaugeLayout), nil }})
	srv := httptest.NewServer(h.WithRelay(rs))
	t.Cleanup(func() { srv.Close(); _ = rs.Close(context.Background()) })

	bctx := newBrowser(t, ctx, chrome)
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`#conn[data-state="online"]`),
		chromedp.WaitVisible(`[data-control="level"] svg`), chromedp.WaitVisible(`#warning`)); err != nil {
		t.Fatalf("page did not connect: %v", err)
	}

	// Two warnings, two lines: the rendered text breaks between them, and
	// the second starts at the banner's left edge below the first.
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('warning').innerText`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{strings.ReplaceAll(warn1, "`", ""), warn2}
	if got := strings.Split(strings.TrimSpace(text), "\n"); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("warning banner renders %q; want one line each: %q", got, want)
	}
	type pos struct{ Left, FirstBottom, SecondTop, SecondLeft float64 }
	p, err := chromedp.Run(bctx, chromedp.Evaluate[pos](`(() => {
		const b = document.getElementById('warning');
		const nodes = [...b.childNodes];
		const first = nodes[0], last = nodes[nodes.length - 1];
		const r1 = document.createRange(); r1.setStart(first, 0); r1.setEnd(first, 1);
		const i = last.textContent.indexOf('no GPIO');
		const r2 = document.createRange(); r2.setStart(last, i); r2.setEnd(last, i + 1);
		const cs = getComputedStyle(b);
		const code = b.querySelector('code').getBoundingClientRect();
		return { Left: b.getBoundingClientRect().left + parseFloat(cs.paddingLeft) + parseFloat(cs.borderLeftWidth),
			FirstBottom: Math.max(r1.getBoundingClientRect().bottom, code.bottom) - 1,
			SecondTop: r2.getBoundingClientRect().top, SecondLeft: r2.getBoundingClientRect().left }; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if p.SecondTop < p.FirstBottom || p.SecondLeft-p.Left > 2 {
		t.Errorf("the second warning does not start a line of its own: %+v", p)
	}

	// The gauge before any reading: not one pixel of the bar's colour.
	bar := func() int {
		t.Helper()
		shot, err := chromedp.Run(bctx, chromedp.Screenshot(`[data-control="level"] svg`, chromedp.NodeVisible))
		if err != nil {
			t.Fatal(err)
		}
		return magentaPixels(t, shot)
	}
	if n := bar(); n != 0 {
		t.Errorf("a gauge without a reading draws %d pixels of its bar (a dot at the minimum)", n)
	}
	if v, err := chromedp.Run(bctx, chromedp.Text(`[data-control="level"] .val`)); err != nil || v != "–" {
		t.Errorf("value without a reading %q (%v), want –", v, err)
	}

	// A reading draws the bar (so the count above can see one); null, a
	// value gone away, takes it away again.
	ph := phonetest.Dial(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", phonetest.App("meter-phone", ""))
	send := func(p map[string]any) {
		t.Helper()
		raw, _ := json.Marshal(p)
		if err := ph.Write(wire.Frame{ID: wire.NewID(), Type: "broadcast_request", Payload: raw}); err != nil {
			t.Fatal(err)
		}
	}
	send(map[string]any{"msg_type": "metrics", "source": "meter", "level": 50})
	if err := chromedp.Do(bctx, chromedp.WaitVisible(`[data-control="level"] .val[data-value="50"]`)); err != nil {
		t.Fatal(err)
	}
	waitBar(t, ctx, "a reading of 50", bar, func(n int) bool { return n > 200 })
	send(map[string]any{"msg_type": "control_snapshot", "controls": map[string]any{"level": nil}})
	if err := chromedp.Do(bctx, chromedp.WaitVisible(`[data-control="level"] .val[data-value=""]`)); err != nil {
		t.Fatal(err)
	}
	waitBar(t, ctx, "the reading gone (null)", bar, func(n int) bool { return n == 0 })
}

// waitBar polls the bar's pixel count until ok (the bar animates).
func waitBar(t *testing.T, ctx context.Context, what string, bar func() int, ok func(int) bool) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n := bar()
	for !ok(n) {
		select {
		case <-wctx.Done():
			t.Fatalf("gauge after %s: %d pixels of its bar", what, n)
		case <-time.After(50 * time.Millisecond):
		}
		n = bar()
	}
}

// magentaPixels counts the pixels of a PNG close to the accent #ff00ff.
func magentaPixels(t *testing.T, b []byte) int {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if isMagenta(img, x, y) {
				n++
			}
		}
	}
	return n
}

func isMagenta(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	return r>>8 > 200 && g>>8 < 90 && b>>8 > 200
}

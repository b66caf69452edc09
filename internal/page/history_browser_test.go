package page

import (
	"context"
	"fmt"
	"github.com/meshbox/meshbox/internal/auth"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/history"
	"github.com/meshbox/meshbox/internal/layout"
	"github.com/meshbox/meshbox/internal/pairing"
)

// TestBrowserHistoryTrends backfills a day of climate_temperature (every
// 2 s) and fan states, serves the page with /api/history behind the token,
// and checks in headless Chromium that the sensor card and the output card
// draw their charts (uPlot canvas pixels and point counts) for 1 h, 24 h
// and 7 d.
func TestBrowserHistoryTrends(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const token = "history-token"
	cfg := config.Demo()
	opts := history.OptionsFrom(cfg)
	st, err := history.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, se := range cfg.Series() { // as the box does
		st.Declare(se.Name, se.Unit)
	}
	now := time.Now()
	for i, ts := 0, now.Add(-24*time.Hour); ts.Before(now); i, ts = i+1, ts.Add(2*time.Second) {
		st.Add("climate_temperature", ts, 21+float64(i%600)/100)
		st.Add("fan", ts, float64(i/600%2))
		if i%150 == 0 {
			_ = st.Flush()
		}
	}
	_ = st.Flush()

	l, err := layout.Generate(cfg, layout.Options{URL: "ws://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := auth.Open(auth.Options{Dir: t.TempDir(), HubToken: token})
	if err != nil {
		t.Fatal(err)
	}
	pg := New(Options{Name: cfg.Name, URL: "ws://127.0.0.1:1", Credentials: creds,
		Layout: func(tok string) ([]byte, error) { return l.WithToken(tok).JSON() }})
	mux := http.NewServeMux()
	mux.Handle(history.Path, history.Handler(history.HTTPOptions{Store: st, Member: func(tok string) bool { return tok == token }}))
	mux.Handle("/", pg)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	bctx := newBrowser(t, ctx, chrome)
	// points waits for the field's chart to have drawn (range r) and
	// returns its point count.
	points := func(field, r string) int {
		js := fmt.Sprintf(`(() => { const e = document.querySelector('[data-control=%q] .trend[data-range=%q] .chart[data-points]');
			return e ? +e.dataset.points : 0; })()`, field, r)
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](js+" > 0", chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("%s: no %s chart drawn: %v", field, r, err)
		}
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// inked counts the chart canvas's non-transparent pixels.
	inked := func(field string) int {
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf(`(() => { const c = document.querySelector('[data-control=%q] .trend canvas');
			if (!c) return -1; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
			let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })()`, field)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/?token="+token)); err != nil {
		t.Fatal(err)
	}
	// The backfill ends at now; the page asks for the hour before its own
	// request, later on a busy machine: each 2 s of delay is a point fewer.
	late := func() int { return int(time.Since(now) / (2 * time.Second)) }
	if n := points("climate_temperature", "1h"); n < 1790-late() || n > 1802 {
		t.Fatalf("1 h trend has %d points, want ~1800 less %d for the delay", n, late())
	}
	if n := inked("climate_temperature"); n < 500 {
		t.Fatalf("the 1 h trend canvas has %d drawn pixels", n)
	}
	if n := points("fan", "1h"); n < 1790-late() {
		t.Fatalf("fan timeline has %d points", n)
	}
	if n := inked("fan"); n < 500 {
		t.Fatalf("the fan timeline canvas has %d drawn pixels", n)
	}
	for _, r := range []struct {
		name     string
		min, max int
	}{{"24h", 1400, 1442}, {"7d", 95, 98}} {
		if err := chromedp.Do(bctx, chromedp.Click(`[data-control="climate_temperature"] .trend button[data-range="`+r.name+`"]`, chromedp.NodeVisible)); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if n := points("climate_temperature", r.name); n < r.min || n > r.max {
			t.Fatalf("%s trend: %d points, want %d..%d", r.name, n, r.min, r.max)
		}
	}
	if n := inked("climate_temperature"); n < 500 {
		t.Fatalf("the 7 d trend canvas has %d drawn pixels", n)
	}
	pressed, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`[...document.querySelectorAll('[data-control="climate_temperature"] .range[aria-pressed="true"]')].map(b => b.textContent).join()`))
	if pressed != "7d" {
		t.Fatalf("pressed range %q", pressed)
	}
	// A card the box keeps no history for (the momentary door) gets none.
	trends, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`[...document.querySelectorAll('.trend')].map(e => e.dataset.field).join()`))
	if strings.Contains(trends, "door") || !strings.Contains(trends, "fan") || !strings.Contains(trends, "climate_temperature") {
		t.Fatalf("trends on %s", trends)
	}
	// A series without points (the lamp never switched) shows no empty chart.
	if hidden, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.querySelector('[data-control="lamp"] .trend').hidden`)); err != nil || !hidden {
		t.Fatalf("lamp: empty trend shown (%v)", err)
	}
	if dir := os.Getenv("MESHBOX_SCREENSHOTS"); dir != "" {
		screenshot(t, bctx, dir, "page-history.png")
	}
}

// TestBrowserTrendSparkline: the generated layout's trend sparkline is
// backfilled from control_snapshot (an array the bridge holds, as the
// box's history component puts it there) and then extended by the live
// metrics broadcasts.
func TestBrowserTrendSparkline(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const token = "trend-token"
	bx := startBox(t, ctx, token, pairing.NewWindow(10*time.Minute, false, nil), "")
	backfill := make([]float64, 40)
	for i := range backfill {
		backfill[i] = 20 + float64(i)/10
	}
	id := layout.TrendID("climate_temperature")
	bx.bridge.SetSnapshotValue(id, &backfill)
	bctx := newBrowser(t, ctx, chrome)
	if err := chromedp.Do(bctx, chromedp.Navigate(bx.url+"/?token="+token)); err != nil {
		t.Fatal(err)
	}
	sel := fmt.Sprintf(`document.querySelector('[data-control=%q]')`, id)
	// Backfilled: 40 points (then live readings append, up to 60).
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`(`+sel+`?.dataset.points ?? 0) >= 40`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("sparkline not backfilled from the snapshot: %v", err)
	}
	first, err := chromedp.Run(bctx, chromedp.Evaluate[string](sel+`.querySelector('polyline').getAttribute('points').split(' ')[0]`))
	if err != nil || first != "0.00,28.00" { // the lowest (first) backfilled reading at the left edge, bottom
		t.Fatalf("first sparkline point %q (%v)", first, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`(`+sel+`?.dataset.points ?? 0) >= 41`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("sparkline not fed by live metrics: %v", err)
	}
}

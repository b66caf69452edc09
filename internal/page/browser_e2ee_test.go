package page

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// TestBrowserEncryptedRoom: in headless Chromium the page works in an
// encrypted room — it gets the key with the token, its layout reply and
// commands are sealed (the bridge acts only on sealed commands, so the
// switched output proves it), and it opens the bridge's sealed state and
// live sensor values. A guest with the token but not the key sees only
// envelopes from the page.
func TestBrowserEncryptedRoom(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const token = "browser-e2ee-token"
	key, err := e2ee.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := e2ee.NewCodec(key, e2ee.CodecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bx := startBoxWith(t, ctx, token, pairing.NewWindow(10*time.Minute, false, nil), "", codec)
	guest := phonetest.Dial(t, "ws"+strings.TrimPrefix(bx.url, "http")+"/", phonetest.Options{Name: "guest", Token: token, Channel: "home", Role: "node"})

	bctx := newBrowser(t, ctx, chrome)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(bx.url+"/"),
		chromedp.WaitVisible(`#conn[data-state="online"]`),
		chromedp.WaitVisible(`#e2ee`),
	); err != nil {
		t.Fatalf("page did not connect in the encrypted room: %v", err)
	}
	select {
	case r := <-bx.pushes:
		if !strings.HasPrefix(r.Member.Name, "page-") || !r.OK || !strings.Contains(string(r.Rendered), `"tabs":3`) {
			t.Fatalf("sealed apply-layout to the page: %+v %s", r, r.Rendered)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the layout was never pushed to the page")
	}

	lamp := gpio.Line{Offset: 17}
	if err := chromedp.Do(bctx, chromedp.WaitEnabled(`[data-control="lamp"] input[type=checkbox]`),
		chromedp.Click(`[data-control="lamp"] input[type=checkbox]`, chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := bx.board.WaitOutput(wctx, lamp, true); err != nil {
		// Say what the page saw (its error line, connection state), and
		// what the box's cipher counted, so a failure can be diagnosed.
		page, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => { const e = document.getElementById('error');
			return 'conn=' + document.getElementById('conn').dataset.state + ' error=' + (e && !e.hidden ? e.textContent : '') +
				' lamp=' + document.querySelector('[data-control="lamp"] input').checked; })()`))
		t.Fatalf("the page's sealed command did not drive the output: %v (page: %s; codec %+v)", err, page, codec.Stats())
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(`[data-control="lamp"] .val[data-value="true"]`)); err != nil {
		t.Fatal(err)
	}
	if _, err := bx.bridge.Apply(ctx, "fan", true, "test"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(`[data-control="fan"] .val[data-value="true"]`)); err != nil {
		t.Fatalf("sealed state not shown: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](
		`(() => { const v = document.querySelector('[data-control="climate_temperature"] .val').dataset.value; return v !== '' && !isNaN(+v); })()`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("no live sensor value on the page in the encrypted room: %v", err)
	}
	if st := codec.Stats(); st.Opened == 0 || st.Sealed == 0 {
		t.Fatalf("codec %+v", st)
	}
	// The page's cmd as the guest saw it: an envelope (the guest sees the
	// bridge's frames and the page's; nothing in clear).
	peek, _ := e2ee.NewRoom(key, nil, e2ee.OpenerOptions{}) // the codec has seen them already
	for {
		f, err := guest.Next(ctx)
		if err != nil {
			t.Fatalf("guest: %v", err)
		}
		if f.Type != "broadcast" {
			continue
		}
		if !e2ee.IsEnvelope(f.Payload) {
			t.Fatalf("the guest saw plaintext: %s", f.Payload)
		}
		if pt, err := peek.Open(f.Payload); err == nil && strings.Contains(string(pt), `"msg_type":"cmd"`) {
			break // the page's own sealed command
		}
	}
}

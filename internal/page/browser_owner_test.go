package page

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meshbox/meshbox/internal/auth"
	"github.com/meshbox/meshbox/internal/pairing"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// TestBrowserOwnerSection drives the owner's section in headless Chromium:
// a phone token does not unlock it; the owner credential shows the token
// list, the relay's weak-token warning, opens pairing, mints a viewer QR
// that decodes to a read-only token, and revokes a paired phone, which the
// relay then disconnects.
func TestBrowserOwnerSection(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const hub = "weak-hub" // under 16 characters: the relay warns
	w := pairing.NewWindow(10*time.Minute, false, nil)
	w.Close()
	bx := startBox(t, ctx, hub, w, "")
	phoneTok, tok, err := bx.store.Mint(auth.ScopeController, "alice's phone")
	if err != nil {
		t.Fatal(err)
	}
	phone := phonetest.Dial(t, "ws"+strings.TrimPrefix(bx.url, "http")+"/", phonetest.App("alice", phoneTok))
	owner, err := auth.ReadOwnerToken(bx.store.Dir())
	if err != nil {
		t.Fatal(err)
	}
	bctx := newBrowser(t, ctx, chrome)
	unlock := func(cred string) error {
		return chromedp.Do(bctx,
			chromedp.Evaluate[chromedp.Void](`document.getElementById('owner').open = true`),
			chromedp.WaitVisible(`#owner-cred`),
			chromedp.SendKeys(`#owner-cred`, cred),
			chromedp.Click(`#owner-login button[type=submit]`, chromedp.NodeVisible))
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(bx.url+"/"), chromedp.WaitVisible(`#pairing-closed`)); err != nil {
		t.Fatal(err)
	}
	if err := unlock(phoneTok); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById('owner-msg').textContent.includes('member token')`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("a phone token on the owner section: no refusal shown (%v)", err)
	}
	if vis, _ := chromedp.Run(bctx, chromedp.Evaluate[bool](`!document.getElementById('owner-panel').hidden`)); vis {
		t.Fatal("a phone token unlocked the owner section")
	}
	if err := unlock(owner); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(`#owner-panel`), chromedp.WaitVisible(`tr[data-token="`+tok.ID+`"]`)); err != nil {
		t.Fatal(err)
	}
	if warn, err := chromedp.Run(bctx, chromedp.Text(`#owner-warning`)); err != nil || !strings.Contains(warn, "16") {
		t.Errorf("weak-token warning on the owner section: %q (%v)", warn, err)
	}
	// Open pairing from the page: the public QR appears.
	if err := chromedp.Do(bctx, chromedp.Click(`#owner-pair`, chromedp.NodeVisible), chromedp.WaitVisible(`#pairing-open`)); err != nil {
		t.Fatal(err)
	}
	// A viewer QR.
	if err := chromedp.Do(bctx, chromedp.SendKeys(`#owner-viewer-label`, "kitchen tablet"),
		chromedp.Click(`#owner-viewer`, chromedp.NodeVisible), chromedp.WaitVisible(`#owner-viewer-wrap`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`document.getElementById('owner-viewer-qr').naturalWidth > 0`)(ctx, tg)
			return err
		})); err != nil {
		t.Fatal(err)
	}
	img, err := imagePNG(bctx, `#owner-viewer-qr`)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOARCH == "arm" {
		// gozxing built for 32-bit ARM (make test-arm, armv6 under qemu)
		// fails Reed-Solomon on this QR that it decodes on amd64 and arm64.
		t.Skip("32-bit ARM: the QR decoder is unreliable here; decoded on 64-bit builds")
	}
	var vp pairing.Payload
	if err := json.Unmarshal([]byte(decodeQR(t, img)), &vp); err != nil || vp.Role != "viewer" {
		t.Fatalf("viewer QR %+v %v", vp, err)
	}
	if sc, ok := bx.store.Lookup(vp.Token); !ok || sc != auth.ScopeViewer {
		t.Fatal("the viewer QR's token is not a viewer token")
	}
	// Revoke the phone: its row goes, the relay closes it.
	if err := chromedp.Do(bctx, chromedp.Click(`[data-revoke="`+tok.ID+`"]`, chromedp.NodeVisible),
		chromedp.WaitNotPresent(`tr[data-token="`+tok.ID+`"]`)); err != nil {
		t.Fatal(err)
	}
	if err := phone.WaitClosed(10 * time.Second); err == nil || !strings.Contains(err.Error(), "1008") {
		t.Fatalf("revoked phone: %v", err)
	}
	if html, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.documentElement.outerHTML + JSON.stringify(localStorage)`)); strings.Contains(html, owner) {
		t.Fatal("the owner credential is in the page or its localStorage")
	}
}

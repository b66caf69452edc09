package page

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/pairing"
)

// TestBrowserDetails: what a newcomer saw missing on the page. A button's
// card names the output and the button says what it does (no repeated
// title); a momentary output shows its pulse; a switch turned off by an
// interlock says why; a gauge without a reading draws no bar; icons are
// drawn; half-width cards flow without holes.
func TestBrowserDetails(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const token = "browser-details-token"
	bx := startBox(t, ctx, token, pairing.NewWindow(10*time.Minute, false, nil), "")
	bctx := newBrowser(t, ctx, chrome)
	if err := chromedp.Do(bctx, chromedp.Navigate(bx.url+"/"), chromedp.WaitVisible(`#conn[data-state="online"]`)); err != nil {
		t.Fatalf("page did not connect: %v", err)
	}
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => {
		const c = document.querySelector('[data-control="door"]');
		return c.querySelector('.name').textContent + '|' + c.querySelector('button').textContent; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if name, btn, _ := strings.Cut(text, "|"); !strings.Contains(name, "Door") || btn != "Press" {
		t.Errorf("door card: name %q, button %q", name, btn)
	}
	if icon, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('[data-control="lamp"] .icon')?.textContent || ''`)); err != nil || icon == "" {
		t.Errorf("the lamp's icon is not drawn (%q, %v)", icon, err)
	}

	// The door pulses: the card is active while the output is on.
	door := gpio.Line{Offset: 23}
	if err := chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const c = document.querySelector('[data-control="door"]');
		new MutationObserver(() => { if (c.classList.contains('active')) window.__sawActive = true; })
			.observe(c, { attributes: true, attributeFilter: ['class'] }); })()`),
		chromedp.WaitEnabled(`[data-control="door"] button`), chromedp.Click(`[data-control="door"] button`)); err != nil {
		t.Fatal(err)
	}
	// The pulse may be over before we look: read the pin's history, not
	// its level.
	pulsed := func() bool {
		for _, c := range bx.board.OutputHistory(door) {
			if c.Level {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !pulsed(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("door button did not pulse the output within 10 s")
		}
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`(() => {
		const c = document.querySelector('[data-control="door"]');
		return !!window.__sawActive && !c.classList.contains('active'); })()`,
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the door card never showed its pulse (on, then off): %v", err)
	}

	// Interlock: valve_open on, then valve_close on: valve_open goes off and says why.
	for _, id := range []string{"valve_open", "valve_close"} {
		sel := `[data-control="` + id + `"] input[type=checkbox]`
		if err := chromedp.Do(bctx, chromedp.WaitEnabled(sel), chromedp.Click(sel, chromedp.NodeVisible),
			chromedp.WaitVisible(`[data-control="`+id+`"] .val[data-value="true"]`)); err != nil {
			t.Fatalf("switch %s on: %v", id, err)
		}
	}
	hint, err := chromedp.Run(bctx, chromedp.Poll[string](`document.querySelector('[data-control="valve_open"] .hint').dataset.hint || null`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !strings.Contains(hint, "Valve close") {
		t.Errorf("valve_open hint %q (%v)", hint, err)
	}

	// No holes: every card's grid row and column come from the flow.
	holes, err := chromedp.Run(bctx, chromedp.Evaluate[int](`[...document.querySelectorAll('.ctl')].filter((c) => !/^span/.test(c.style.gridColumnStart || 'span')).length`))
	if err != nil || holes != 0 {
		t.Errorf("%d cards are placed at fixed columns (%v)", holes, err)
	}
}

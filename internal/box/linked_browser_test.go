package box

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/meshbox/meshbox/internal/gpio"
)

// TestLinkedBoxOnTheHubPage (issue #19): the hub's page (headless
// Chromium) shows garage's tab; its lamp switch switches garage's pin and
// shows garage's state; when garage stops, the tab is marked offline and
// the switch greyed out with no position.
func TestLinkedBoxOnTheHubPage(t *testing.T) {
	hub, garage, _ := startHubAndGarage(t)

	bctx := browser(t)
	page := strings.Replace(hub.url(), "ws://", "http://", 1) + "?token=" + testToken
	lamp := `[data-control="garage.lamp"]`
	if err := chromedp.Do(bctx, chromedp.Navigate(page), chromedp.WaitVisible(`#conn[data-state="online"]`),
		chromedp.WaitVisible(`section.tab[data-offline="false"] `+lamp+` .val[data-value="false"]`),
		chromedp.WaitEnabled(lamp+` input[type=checkbox]`),
		chromedp.Click(lamp+` input[type=checkbox]`, chromedp.NodeVisible),
		chromedp.WaitVisible(lamp+` .val[data-value="true"]`),
	); err != nil {
		t.Fatalf("garage's lamp on the hub's page: %v", err)
	}
	if on, _ := garage.board.OutputLevel(gpio.Line{Offset: 17}); !on {
		t.Error("the page's switch did not switch garage's lamp")
	}
	if on, _ := hub.board.OutputLevel(gpio.Line{Offset: 17}); on {
		t.Error("the hub's own lamp switched")
	}
	if err := garage.stop(); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx,
		chromedp.WaitVisible(`section.tab[data-offline="true"] `+lamp+`[data-known="false"]`),
	); err != nil {
		t.Fatalf("garage's tab not shown offline: %v", err)
	}
	if got, err := chromedp.Run(bctx, chromedp.Text(`section.tab[data-offline="true"] h2`)); err != nil || got != "garage (offline)" {
		t.Errorf("offline tab title %q %v", got, err)
	}
}

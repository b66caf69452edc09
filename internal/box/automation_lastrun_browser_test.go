package box

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
)

// TestAutomationLastRunOnThePage: the page (headless Chromium) shows each
// automation's last run beside its toggle: "never", then the time of the
// run once the rule has run.
func TestAutomationLastRunOnThePage(t *testing.T) {
	cfg, err := config.Parse("greenhouse.yaml", []byte(autoYAML))
	if err != nil {
		t.Fatal(err)
	}
	url := startAutoBox(t, cfg, Options{Sim: true, Board: simhost.New(simhost.Options{Seed: 6})})
	bctx := browser(t)
	const sel = `[data-control="door_open_last_run"] .val`
	if err := chromedp.Do(bctx,
		chromedp.Navigate(strings.Replace(url, "ws://", "http://", 1)),
		chromedp.WaitVisible(`#conn[data-state="online"]`),
		chromedp.WaitVisible(sel+`[data-value="never"]`),
	); err != nil {
		t.Fatalf("last run before a run: %v", err)
	}
	sendSim(t, url, map[string]any{"target": "door", "value": true})
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](
		`(() => { const v = document.querySelector('`+sel+`'); return !!v && v.dataset.value !== 'never' && v.dataset.value !== ''; })()`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("last run not updated on the page: %v", err)
	}
	got, err := chromedp.Run(bctx, chromedp.Text(sel))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(lastRunLayout, got); err != nil {
		t.Errorf("page shows last run %q: not a time: %v", got, err)
	}
	if want := bxControl(t, url, "door_open_last_run"); got != want {
		t.Errorf("page shows %q, the box says %v", got, want)
	}
}

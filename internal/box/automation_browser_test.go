package box

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// TestAutomationsOnThePage: the box's page (headless Chromium) shows the
// Automations tab: the thermostat's target stepper changes the target, the
// status label follows the thermostat, and notifications appear in the log.
func TestAutomationsOnThePage(t *testing.T) {
	cfg, err := config.Parse("greenhouse.yaml", []byte(autoYAML))
	if err != nil {
		t.Fatal(err)
	}
	board := simhost.New(simhost.Options{Seed: 3})
	url := startAutoBox(t, cfg, Options{Sim: true, Board: board})
	page := strings.Replace(url, "ws://", "http://", 1)

	bctx := browser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(page), chromedp.WaitVisible(`#conn[data-state="online"]`)); err != nil {
		t.Fatalf("page did not connect: %v", err)
	}
	// The stepper shows the target from the snapshot; + raises it by 0.5.
	if err := chromedp.Do(bctx,
		chromedp.WaitVisible(`[data-control="heating"] .val[data-value="20"]`),
		chromedp.WaitEnabled(`[data-control="heating"] button[aria-label^="raise"]`),
		chromedp.Click(`[data-control="heating"] button[aria-label^="raise"]`, chromedp.NodeVisible),
		chromedp.WaitVisible(`[data-control="heating"] .val[data-value="20.5"]`),
	); err != nil {
		t.Fatalf("stepper: %v", err)
	}
	if got := bxControl(t, url, "heating"); got != 20.5 {
		t.Errorf("target after +: %v", got)
	}
	// Status and notifications follow the box.
	sendSim(t, url, map[string]any{"target": "air_temp", "value": 15})
	if err := chromedp.Do(bctx, chromedp.WaitVisible(`[data-control="heating_status"] .val[data-value="heating"]`)); err != nil {
		t.Fatalf("status: %v", err)
	}
	sendSim(t, url, map[string]any{"target": "door", "value": true})
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](
		`[...document.querySelectorAll('[data-control="notifications"] li')].some((li) => li.textContent.includes('Door open'))`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("notification not on the page: %v", err)
	}
	// The sim panel (simulated board only) forces a reading: the vent rule
	// switches the fan, which the page shows.
	if err := chromedp.Do(bctx,
		chromedp.WaitVisible(`#sim`),
		chromedp.SetValue(`#sim-target`, "air_humidity"),
		chromedp.SetValue(`#sim-value`, "92"),
		chromedp.Click(`#sim-set`, chromedp.NodeVisible),
		chromedp.WaitVisible(`[data-control="vent_fan"] .val[data-value="true"]`),
	); err != nil {
		t.Fatalf("sim panel: %v", err)
	}
	if got, err := chromedp.Run(bctx, chromedp.Text(`#sim-result`)); err != nil || got != "ok" {
		t.Errorf("sim result %q %v", got, err)
	}
}

// sendSim sends one acked sim frame as a phone.
func sendSim(t *testing.T, url string, payload map[string]any) {
	t.Helper()
	p := phonetest.Dial(t, url, phonetest.App("sim-"+strconv.FormatInt(time.Now().UnixNano(), 36), ""))
	defer p.Close()
	payload["msg_type"], payload["_cmd"], payload["_from"] = "sim", "sim1", p.Name()
	p.Broadcast(payload)
	if ack := p.ExpectAck("sim1", 15*time.Second); ack["ok"] != true {
		t.Fatalf("sim %v: %v", payload, ack)
	}
}

// bxControl reads one control from the box's snapshot.
func bxControl(t *testing.T, url, id string) any {
	t.Helper()
	p := phonetest.Dial(t, url, phonetest.App("reader-"+strconv.FormatInt(time.Now().UnixNano(), 36), ""))
	defer p.Close()
	p.Broadcast(map[string]any{"msg_type": "control_sync_request", "from": p.Name()})
	snap := p.ExpectBroadcast(phonetest.Msg("control_snapshot", "to", p.Name()), 15*time.Second)
	c, _ := snap["controls"].(map[string]any)
	return c[id]
}

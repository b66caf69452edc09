package box

import (
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/automation"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// lastRunLayout is automation.LastRunText's format (no year).
const lastRunLayout = "Jan 2 15:04"

// TestAutomationLastRunBroadcast: an automation's last run is a read-only
// control: "never" in the snapshot until the rule runs, then a state frame
// with the run's time, which the snapshot keeps.
func TestAutomationLastRunBroadcast(t *testing.T) {
	cfg, err := config.Parse("greenhouse.yaml", []byte(autoYAML))
	if err != nil {
		t.Fatal(err)
	}
	url := startAutoBox(t, cfg, Options{Sim: true, Board: simhost.New(simhost.Options{Seed: 4})})
	id := automation.LastRunID("door_open")
	if got := bxControl(t, url, id); got != automation.NeverRun {
		t.Fatalf("%s before any run: %v, want %q", id, got, automation.NeverRun)
	}
	if got := bxControl(t, url, automation.LastRunID("heating")); got != nil {
		t.Errorf("a thermostat has a last run: %v", got)
	}
	phone := phonetest.Dial(t, url, phonetest.App("phone", ""))
	sendSim(t, url, map[string]any{"target": "door", "value": true})
	f := phone.ExpectBroadcastFunc(id+" with a time", 15*time.Second, func(p map[string]any) bool {
		return p["msg_type"] == "state" && p["target"] == id && p["value"] != automation.NeverRun
	})
	v, _ := f["value"].(string)
	if _, err := time.Parse(lastRunLayout, v); err != nil {
		t.Errorf("%s = %v: not a time: %v", id, f["value"], err)
	}
	if got := bxControl(t, url, id); got != v {
		t.Errorf("snapshot %s = %v, want %v", id, got, v)
	}
}

// rateYAML: so slow an actuation rate that the bridge allows one change of
// the fan (a full bucket at boot) and refuses the next for minutes.
const rateYAML = `
name: limited
actuation_rate: 0.001
outputs:
  - {id: vent_fan, pin: 27}
inputs:
  - {id: door, pin: 23}
automations:
  - id: door_fan
    when: "door"
    do: [{set: vent_fan, value: true}, {set: vent_fan, value: false}]
`

// TestRuleRefusalLoggedWithRuleID: a rule's actions go through the real
// bridge (on the simulated board); its first switches the fan on (the one
// change the rate allows), so the bridge's rate limit refuses its second,
// the pin stays on, and the refusal is logged with the rule's id.
func TestRuleRefusalLoggedWithRuleID(t *testing.T) {
	cfg, err := config.Parse("limited.yaml", []byte(rateYAML))
	if err != nil {
		t.Fatal(err)
	}
	board := simhost.New(simhost.Options{Seed: 5})
	logs := logtest.New(t)
	url := startAutoBox(t, cfg, Options{Sim: true, Board: board, Logger: logs.Logger()})
	sendSim(t, url, map[string]any{"target": "door", "value": true})
	if l := logs.WaitLines(1, 15*time.Second, "automation action refused", "rule=door_fan", "set vent_fan false", "rate limited"); len(l) == 0 {
		t.Fatalf("no refusal logged with the rule id:\n%s", logs.String())
	}
	if on, _ := board.OutputLevel(gpio.Line{Offset: 27}); !on {
		t.Error("the refused action switched the fan off")
	}
	if got := bxControl(t, url, "vent_fan"); got != true {
		t.Errorf("vent_fan %v after a refused switch-off", got)
	}
}

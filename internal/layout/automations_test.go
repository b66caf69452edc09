package layout

import (
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/automation"
	"github.com/meshbox/meshbox/internal/config"
)

const lastRunYAML = `
name: lastrun
outputs:
  - {id: heater, pin: 17}
  - {id: vent_fan, pin: 27}
sensors:
  - id: air
    driver: sht3x
    fields:
      - {name: air_temp, source: temperature}
      - {name: air_humidity, source: humidity, min: 0, max: 100}
thermostats:
  - {id: heating, sensor: air_temp, output: heater, target: 20, range: [5, 30]}
automations:
  - id: vent_humid
    when: "air_humidity > 80"
    do:   [{set: vent_fan, value: true}]
  - id: hourly
    every: 1h
    do:   [{set: vent_fan, value: false}]
`

// TestAutomationLastRunLabel: each automation (not a thermostat) gets a
// read-only last-run label in its row (toggle, status, last run), fed by
// the "<id>_last_run" state frames the real bridge and engine send; the
// layout validates against those frames and not without them.
func TestAutomationLastRunLabel(t *testing.T) {
	cfg, err := config.Parse("lastrun.yaml", []byte(lastRunYAML))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Generate(cfg, goldenOptions)
	if err != nil {
		t.Fatal(err)
	}
	var tab *Tab
	for i := range l.Tabs {
		if l.Tabs[i].Title == "Automations" {
			tab = &l.Tabs[i]
		}
	}
	if tab == nil {
		t.Fatalf("no Automations tab: %+v", l.Tabs)
	}
	byID := map[string]Control{}
	for _, c := range tab.Children {
		byID[c.ID] = c
	}
	if _, ok := byID[automation.LastRunID("heating")]; ok {
		t.Error("a thermostat got a last-run label")
	}
	for _, id := range []string{"vent_humid", "hourly"} {
		toggle, status := byID[id], byID[automation.StatusID(id)]
		c, ok := byID[automation.LastRunID(id)]
		if !ok {
			t.Fatalf("%s: no last-run control in %v", id, tab.Children)
		}
		if c.Type != "label" || c.Action != nil || !strings.HasSuffix(c.Label, "last run") {
			t.Errorf("%s last run: %+v, want a read-only label", id, c)
		}
		if len(c.Sync) != 1 || c.Sync[0].Filter["msg_type"] != "state" || c.Sync[0].Filter["target"] != id+"_last_run" ||
			c.Sync[0].ValuePath != "value" {
			t.Errorf("%s last run sync %+v", id, c.Sync)
		}
		if row := toggle.Position[0]; status.Position[0] != row || c.Position[0] != row ||
			c.Position[1] != status.Position[1]+status.Span[1] {
			t.Errorf("%s: toggle %v, status %v+%v, last run %v: not one row in that order", id, toggle.Position, status.Position, status.Span, c.Position)
		}
	}

	frames := bridgeFrames(t, cfg, l)
	if err := ValidateLayout(l, frames); err != nil {
		t.Fatalf("layout does not validate against the bridge's frames:\n%v", err)
	}
	// Before any run the value is "never" (a string the label shows).
	var seen bool
	var rest []any
	for _, f := range frames {
		m, _ := f.(map[string]any)
		if m["msg_type"] == "state" && m["target"] == automation.LastRunID("hourly") {
			seen = true
			if m["value"] != automation.NeverRun {
				t.Errorf("hourly last run before any run: %v", m["value"])
			}
			continue
		}
		if tg, _ := m["target"].(string); !strings.HasSuffix(tg, "_last_run") {
			rest = append(rest, f)
		}
	}
	if !seen {
		t.Error("the bridge sent no hourly_last_run frame")
	}
	// Without the last-run frames the labels listen for nothing: the
	// validator says so (the check above is not vacuous).
	err = ValidateLayout(l, rest)
	if err == nil || !strings.Contains(err.Error(), "_last_run") {
		t.Errorf("validation without last-run frames: %v", err)
	}
}

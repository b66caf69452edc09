package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckAutomations: check prints thermostats and automations with
// their resolved triggers and next runs, warns about two rules driving one
// output, and refuses a bad expression with file:line: field: reason.
func TestCheckAutomations(t *testing.T) {
	out, _, err := runCmd(t, "check", filepath.Join("..", "..", "examples", "greenhouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"thermostat heating: heat heater from air_temp, target 18 ±0.5 (range 5..30), min on 5m, min off 5m, stale 1m → heater off",
		"automation vent_humid: when air_humidity > 80 || air_temp > 30 for 30s",
		"automation morning_light: daily at 06:30 local time → set grow_light 80, wait 2h, set grow_light 0",
		"next     morning_light: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	two := filepath.Join(dir, "two.yaml")
	os.WriteFile(two, []byte(`outputs:
  - {id: fan, pin: 17}
inputs:
  - {id: door, pin: 23}
automations:
  - {id: a, when: "door", do: [{set: fan, value: true}]}
  - {id: b, every: 1h, do: [{set: fan, value: false}]}
`), 0o644)
	out, _, err = runCmd(t, "check", two)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `warning: output "fan" is driven by automation a and automation b`) {
		t.Errorf("no two-rules warning:\n%s", out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`outputs:
  - {id: fan, pin: 17}
automations:
  - id: a
    when: "humidity > 80"
    do: [{set: fan, value: true}]
`), 0o644)
	_, errOut, err := runCmd(t, "check", bad)
	if err == nil || !strings.Contains(errOut, bad+":5: automations[0].when: unknown name humidity") {
		t.Errorf("bad expression: err %v, stderr %q", err, errOut)
	}
}

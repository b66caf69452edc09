package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogicLoads(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "logic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Thermostats) != 1 || len(cfg.Automations) != 8 {
		t.Fatalf("thermostats %d automations %d", len(cfg.Thermostats), len(cfg.Automations))
	}
	th := cfg.Thermostats[0]
	if th.Mode != ModeHeat || th.Deadband != 0.5 || th.MinOn != 5*time.Minute || th.Stale != time.Minute || th.Range[1] != 30 {
		t.Errorf("thermostat %+v", th)
	}
	byID := map[string]Automation{}
	for _, a := range cfg.Automations {
		byID[a.ID] = a
		if a.Enabled == nil || !*a.Enabled {
			t.Errorf("%s not enabled by default", a.ID)
		}
	}
	want := map[string]string{"vent_humid": TriggerWhen, "morning_light": TriggerAt, "dusk": TriggerSunset,
		"weekdays": TriggerCron, "hello": TriggerBoot, "tick": TriggerEvery}
	for id, tr := range want {
		if byID[id].Trigger != tr {
			t.Errorf("%s trigger %q, want %q", id, byID[id].Trigger, tr)
		}
	}
	if d := byID["dusk"].Offset; d != 10*time.Minute {
		t.Errorf("dusk offset %s", d)
	}
	nv := byID["night_vent"]
	if strings.Join(nv.Names, ",") != "air_temp,door,heating" || strings.Join(nv.Sensors, ",") != "air_temp" {
		t.Errorf("night_vent names %v sensors %v", nv.Names, nv.Sensors)
	}
	// A pwm set value is normalised to a number.
	if v, ok := byID["morning_light"].Do[0].Value.(float64); !ok || v != 80 {
		t.Errorf("set value %#v", byID["morning_light"].Do[0].Value)
	}
	fl := cfg.Sensors[0].Fields[0].Filters
	if len(fl) != 6 || fl[0].Median != 5 || len(fl[1].Calibrate) != 2 || fl[4].Throttle != 10*time.Second {
		t.Errorf("filters %+v", fl)
	}
	var b strings.Builder
	if err := cfg.WriteWiring(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"automation vent_humid: when air_humidity > 80 for 30s (sensors air_humidity stale after 1m) → set vent_fan true; else set vent_fan false",
		"automation dusk: 10m after sunset → set grow_light 30, disable vent_humid",
		"thermostat heating: heat heater from air_temp, target 20 ±0.5",
		"automation weekdays: cron \"30 6 * * 1-5\" local time → pulse irrigation 2m",
	} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("wiring lacks %q:\n%s", s, b.String())
		}
	}
	w := cfg.Warnings()
	if len(w) != 2 || !strings.Contains(w[0], `output "grow_light" is driven by automation morning_light and automation dusk`) ||
		!strings.Contains(w[1], `"vent_fan" is driven by automation vent_humid and automation night_vent`) {
		t.Errorf("warnings %q", w)
	}
}

func TestLogicDefaults(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "logic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Without range/deadband/stale: defaults; stale follows a slow sensor.
	s := strings.Replace(string(data), "    stale: 60s", "", 1)
	s = strings.Replace(s, "    range: [5, 30]", "", 1)
	s = strings.Replace(s, "    target: 20", "    target: 32", 1)
	s = strings.Replace(s, "    interval: 5s\n", "    interval: 40s\n", 1)
	cfg, err := Parse("x.yaml", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	th := cfg.Thermostats[0]
	if th.Stale != 120*time.Second || th.Range[0] != 5 || th.Range[1] != 32 {
		t.Errorf("defaults: stale %s range %v", th.Stale, th.Range)
	}
	if cfg.Clock != "synced" {
		t.Errorf("clock %q", cfg.Clock)
	}
}

func TestParseOffsetAndClock(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "-20m": -20 * time.Minute, "+10m": 10 * time.Minute, "1h": time.Hour} {
		if d, err := ParseOffset(in); err != nil || d != want {
			t.Errorf("ParseOffset(%q) = %s, %v", in, d, err)
		}
	}
	for _, bad := range []string{"13h", "+-5m", "soon", "-13h"} {
		if _, err := ParseOffset(bad); err == nil {
			t.Errorf("ParseOffset(%q) accepted", bad)
		}
	}
	if h, m, s, err := ParseClock("06:30"); err != nil || h != 6 || m != 30 || s != 0 {
		t.Errorf("ParseClock 06:30 = %d %d %d %v", h, m, s, err)
	}
	for _, bad := range []string{"6", "24:00", "06:60", "06:30:61", "ab:cd", "06:30:00:00", "-1:30", "006:30"} {
		if _, _, _, err := ParseClock(bad); err == nil {
			t.Errorf("ParseClock(%q) accepted", bad)
		}
	}
}

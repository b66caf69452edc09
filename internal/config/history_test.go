package config

import (
	"strings"
	"testing"
	"time"
)

func TestHistoryDefaultsAndOverrides(t *testing.T) {
	cfg, err := Parse("h.yaml", []byte(`
sensors:
  - id: room
    driver: sim
    fields:
      - {name: air_temp, source: temperature}
      - {name: air_hum, source: humidity}
outputs:
  - {id: heater, pin: 17}
history:
  flush_interval: 1m
  rollup_15m: 0s
  fields:
    air_hum: {disabled: true}
    heater: {raw: 48h, resolution: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.History
	if h.FlushInterval != time.Minute || *h.Raw != DefaultHistoryRaw || *h.Rollup1m != DefaultHistoryRollup1m || *h.Rollup15m != 0 {
		t.Fatalf("block: %+v", h)
	}
	if f := h.Fields["heater"]; *f.Raw != 48*time.Hour || *f.Rollup15m != 0 || *f.Rollup1m != DefaultHistoryRollup1m || f.Resolution != 1 {
		t.Fatalf("heater: %+v", f)
	}
	if !h.Fields["air_hum"].Disabled {
		t.Fatal("air_hum not disabled")
	}
	got := cfg.Series()
	if len(got) != 3 || got[0] != (Series{Name: "air_temp", Unit: "°C"}) || got[2] != (Series{Name: "heater", Output: true, State: true}) {
		t.Fatalf("series %+v", got)
	}
	def, err := Parse("d.yaml", []byte("name: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if def.History.FlushInterval != DefaultHistoryFlush || *def.History.Rollup15m != DefaultHistoryRollup15m {
		t.Fatalf("defaults %+v", def.History)
	}
}

func TestHistoryErrorsNameFileLineField(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"history:\n  flush_interval: 1s\n", "bad.yaml:2: history.flush_interval: 1s is not between 10s and 1h0m0s"},
		{"history:\n  raw: -1h\n", "bad.yaml:2: history.raw: -1h0m0s is not between 0 (off)"},
		{"history:\n  raw: soon\n", "bad.yaml:2: history.raw: want a duration"},
		{"outputs:\n  - {id: fan, pin: 17}\nhistory:\n  fields:\n    nope: {raw: 1h}\n", `bad.yaml:5: history.fields.nope: no sensor field or output is called "nope"`},
		{"outputs:\n  - {id: fan, pin: 17}\nhistory:\n  fields:\n    fan:\n      resolution: -1\n", "bad.yaml:6: history.fields.fan.resolution: must be a positive number"},
		{"history:\n  colour: red\n", "bad.yaml:2: history: unknown key"},
	} {
		_, err := Parse("bad.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

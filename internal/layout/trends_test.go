package layout

import (
	"testing"

	"github.com/meshbox/meshbox/internal/config"
)

func TestTrendSparklinePerSensorField(t *testing.T) {
	parse := func(extra string) *Layout {
		t.Helper()
		cfg, err := config.Parse("t.yaml", []byte(`
sensors:
  - id: room
    driver: sim
    fields:
      - {name: air_temp, source: temperature, min: 0, max: 40}
      - {name: air_hum, source: humidity}
`+extra))
		if err != nil {
			t.Fatal(err)
		}
		l, err := Generate(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateLayout(l, nil); err != nil {
			t.Fatalf("invalid layout: %v", err)
		}
		return l
	}
	find := func(l *Layout, id string) *Control {
		for _, tab := range l.Tabs {
			for i := range tab.Children {
				if tab.Children[i].ID == id {
					return &tab.Children[i]
				}
			}
		}
		return nil
	}
	l := parse("")
	c := find(l, "air_temp_trend")
	if c == nil || c.Type != "sparkline" || c.SparklinePoints != TrendPoints || c.Label != "Air temp trend (°C)" {
		t.Fatalf("trend control %+v", c)
	}
	if len(c.Sync) != 1 || c.Sync[0].ValuePath != "air_temp" || c.Sync[0].Filter["msg_type"] != "metrics" {
		t.Fatalf("trend sync %+v: want the metrics broadcasts at air_temp", c.Sync)
	}
	if find(l, "air_hum_trend") == nil {
		t.Fatal("no trend for air_hum")
	}
	l = parse("history:\n  fields:\n    air_hum: {disabled: true}\n    air_temp: {raw: 0s}\n")
	if find(l, "air_temp_trend") != nil || find(l, "air_hum_trend") != nil {
		t.Fatal("a trend for a field without raw history")
	}
	if l = parse("history:\n  disabled: true\n"); find(l, "air_temp_trend") != nil {
		t.Fatal("a trend with history disabled")
	}
}

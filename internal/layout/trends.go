package layout

import (
	"github.com/meshbox/meshbox/internal/config"
)

// KindTrend is a sensor field's recent readings as a sparkline: backfilled
// from the box's history through control_snapshot (an array of numbers,
// which replaces the buffer), then fed live by the metrics broadcasts (a
// number, which appends).
const KindTrend = "trend"

// TrendSuffix makes a trend's control id from its field's ("air_temp" ->
// "air_temp_trend").
const TrendSuffix = "_trend"

// TrendPoints is how many readings a trend sparkline keeps (sparklinePoints).
const TrendPoints = 60

// TrendID is the trend control id of a metric field.
func TrendID(field string) string { return field + TrendSuffix }

// trendItems interleaves a trend after every numeric field the box keeps
// raw history for (history enabled, the field not disabled, raw > 0), unless
// its id is taken.
func trendItems(cfg *config.Config, items []Item) []Item {
	h := cfg.History
	if h.Disabled {
		return items
	}
	taken := make(map[string]bool, len(items))
	for _, it := range items {
		taken[it.ID] = true
	}
	out := make([]Item, 0, len(items)*2)
	for _, it := range items {
		out = append(out, it)
		if it.Kind != KindNumber || taken[TrendID(it.ID)] || !keepsRaw(h, it.ID) {
			continue
		}
		tr := it
		tr.ID, tr.Kind, tr.Icon = TrendID(it.ID), KindTrend, "chart.xyaxis.line"
		tr.Label = it.Label + " trend"
		taken[tr.ID] = true
		out = append(out, tr)
	}
	return out
}

func keepsRaw(h config.History, field string) bool {
	raw := h.Raw
	if f, ok := h.Fields[field]; ok {
		if f.Disabled {
			return false
		}
		raw = f.Raw
	}
	return raw == nil || *raw > 0
}

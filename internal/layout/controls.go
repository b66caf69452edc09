package layout

import (
	"fmt"
	"slices"

	"github.com/meshbox/meshbox/internal/config"
)

func f64(v float64) *float64 { return &v }

// allowedTypes are the display types a config may pick per item kind.
var allowedTypes = map[string][]string{
	KindSwitch:     {"toggle"},
	KindMomentary:  {"button"},
	KindPWM:        {"slider"},
	KindInput:      {"statusLight", "label"},
	KindNumber:     {"gauge", "label", "sparkline"},
	KindText:       {"label"},
	KindCommand:    {"button"},
	KindThermostat: {"stepper", "slider"},
	KindAutomation: {"toggle"},
	KindStatus:     {"label"},
	KindLastRun:    {"label"},
	KindLog:        {"logConsole"},
	KindTrend:      {"sparkline"},
}

// cmdAction is the broadcast_request action carrying the item's command
// payload (the bridge's cmd shape by default).
func cmdAction(it Item, value any) *Action {
	p := it.Command
	if p == nil {
		p = map[string]any{"msg_type": "cmd", "target": it.ID, "value": value}
	}
	return &Action{Method: "meshsocket", Mode: "broadcast", Event: "broadcast_request", Payload: p}
}

func listen(it Item) []Sync {
	return []Sync{{Method: "meshsocket", Type: "listen", Event: "broadcast", Filter: it.Filter, ValuePath: it.ValuePath}}
}

// control builds the control for one item with its config overrides.
func control(it Item, ov config.LayoutItem) (Control, error) {
	typ := ov.Type
	allowed := allowedTypes[it.Kind]
	if allowed == nil {
		return Control{}, fmt.Errorf("layout: %s: unknown kind %q", it.ID, it.Kind)
	}
	if typ == "" {
		typ = allowed[0]
		if it.Kind == KindNumber && !it.HasRange {
			typ = "label"
		}
	}
	if !slices.Contains(allowed, typ) {
		return Control{}, fmt.Errorf("layout: items: %s: type %q not possible here (use one of %v)", it.ID, typ, allowed)
	}
	if typ == "gauge" && !it.HasRange {
		return Control{}, fmt.Errorf("layout: items: %s: a gauge needs min < max (set the field's min and max)", it.ID)
	}
	label := it.Label
	if label == "" {
		label = it.ID
	}
	c := Control{Type: typ, ID: it.ID, Span: [2]int{1, 2}, Label: label, Icon: it.Icon}
	switch it.Kind {
	case KindSwitch:
		c.Style = "switch"
		if c.Icon == "" {
			c.Icon = "power"
		}
		c.Action = cmdAction(it, "{{value}}")
		c.Sync = listen(it)
	case KindMomentary:
		c.Style = "filled"
		c.Haptic = "medium"
		if c.Icon == "" {
			c.Icon = "hand.tap"
		}
		c.Action = cmdAction(it, true)
	case KindCommand:
		c.Style = "bordered"
		c.Haptic = "light"
		c.Action = cmdAction(it, nil)
	case KindPWM:
		c.Span = [2]int{1, 4}
		c.Min, c.Max, c.Step = f64(0), f64(100), f64(1)
		c.FormatValue = "suffix:%"
		if c.Icon == "" {
			c.Icon = "dial.medium"
		}
		c.Action = cmdAction(it, "{{value}}")
		c.Sync = listen(it)
	case KindInput:
		if c.Icon == "" {
			c.Icon = "circle.circle"
		}
		if typ == "statusLight" {
			c.StatusColors = map[string]string{"true": "#34C759", "false": "#8E8E93"}
			c.Style = "badge"
		}
		c.Sync = listen(it)
	case KindNumber:
		if it.Unit != "" {
			c.Label = fmt.Sprintf("%s (%s)", label, it.Unit)
		}
		c.FormatValue = "decimal:1"
		switch typ {
		case "gauge":
			c.Span = [2]int{2, 2}
			c.Min, c.Max = f64(it.Min), f64(it.Max)
			c.GaugeStyle = "half"
		case "sparkline":
			c.Span = [2]int{2, 4}
			c.SparklinePoints = 60
			if it.HasRange {
				c.Min, c.Max = f64(it.Min), f64(it.Max)
			}
		}
		c.Sync = listen(it)
	case KindTrend:
		c.Label = label
		if it.Unit != "" {
			c.Label = fmt.Sprintf("%s (%s)", label, it.Unit)
		}
		c.Span = [2]int{2, 2} // beside its gauge
		c.FormatValue = "decimal:1"
		c.SparklinePoints = TrendPoints
		c.SparklineFill = true
		c.Sync = listen(it)
	case KindText:
		c.Span = [2]int{1, 4}
		c.Style = "mono"
		c.Sync = listen(it)
	case KindThermostat, KindAutomation, KindStatus, KindLastRun, KindLog:
		automationControl(&c, it)
	}
	if ov.Label != "" {
		c.Label = ov.Label
	}
	if ov.Icon != "" {
		c.Icon = ov.Icon
	}
	if ov.Tint != "" {
		c.Tint = ov.Tint
	}
	return c, nil
}

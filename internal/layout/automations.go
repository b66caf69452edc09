package layout

import (
	"github.com/meshbox/meshbox/internal/automation"
	"github.com/meshbox/meshbox/internal/config"
)

// Item kinds of the box's own logic.
const (
	KindThermostat = "thermostat" // target -> stepper
	KindAutomation = "automation" // enabled -> toggle
	KindStatus     = "status"     // a thermostat's or automation's state -> label
	KindLastRun    = "last_run"   // when an automation last ran -> label
	KindLog        = "log"        // notifications -> logConsole
)

// NotificationsID is the log console of notify broadcasts.
const NotificationsID = "notifications"

// automationItems are, per thermostat, a target stepper and a status label;
// per automation, an enabled toggle, a status label and a last-run label;
// and one log console of notifications when any automation notifies. Values
// come from the frames the box sends: {"msg_type":"state","target":ID,
// "value":V} for the controls and for the read-only "<id>_status" and
// "<id>_last_run" (automation.StatusValues), and {"msg_type":"notify",
// "source":ID,"text":T} for notifications.
func automationItems(cfg *config.Config) []Item {
	var items []Item
	state := func(id string) map[string]any { return map[string]any{"msg_type": "state", "target": id} }
	status := func(id, label string) Item {
		sid := automation.StatusID(id)
		return Item{ID: sid, Kind: KindStatus, Label: label + " status", Icon: "info.circle",
			Filter: state(sid), ValuePath: "value"}
	}
	for _, t := range cfg.Thermostats {
		label := t.Label
		if label == "" || label == t.ID {
			label = humanize(t.ID)
		}
		lo, hi := 5.0, 30.0
		if len(t.Range) == 2 {
			lo, hi = t.Range[0], t.Range[1]
		}
		items = append(items,
			Item{ID: t.ID, Kind: KindThermostat, Label: label, Icon: "thermometer.medium", Min: lo, Max: hi, HasRange: true,
				Filter: state(t.ID), ValuePath: "value",
				Command: map[string]any{"msg_type": "cmd", "target": t.ID, "value": "{{value}}"}},
			status(t.ID, label))
	}
	notify := false
	for _, a := range cfg.Automations {
		label := a.Label
		if label == "" || label == a.ID {
			label = humanize(a.ID)
		}
		items = append(items,
			Item{ID: a.ID, Kind: KindAutomation, Label: label, Icon: "gearshape.2",
				Filter: state(a.ID), ValuePath: "value",
				Command: map[string]any{"msg_type": "cmd", "target": a.ID, "value": "{{value}}"}},
			status(a.ID, label),
			Item{ID: automation.LastRunID(a.ID), Kind: KindLastRun, Label: label + " last run", Icon: "clock",
				Filter: state(automation.LastRunID(a.ID)), ValuePath: "value"})
		for _, act := range append(append([]config.Action{}, a.Do...), a.Else...) {
			notify = notify || act.Notify != ""
		}
	}
	if notify {
		items = append(items, Item{ID: NotificationsID, Kind: KindLog, Label: "Notifications", Icon: "bell",
			Filter: map[string]any{"msg_type": "notify"}, ValuePath: "text"})
	}
	return items
}

// automationControl fills the control of an automation item.
func automationControl(c *Control, it Item) {
	switch it.Kind {
	case KindThermostat:
		c.Span = [2]int{1, 2}
		c.Min, c.Max, c.Step = f64(it.Min), f64(it.Max), f64(0.5)
		c.FormatValue = "decimal:1"
		c.Action = cmdAction(it, "{{value}}")
		c.Sync = listen(it)
	case KindAutomation:
		c.Style = "switch"
		c.Action = cmdAction(it, "{{value}}")
		c.Sync = listen(it)
	case KindStatus, KindLastRun:
		// One cell each: an automation's row is its toggle, its state and
		// its last run; a thermostat's stepper, its state and a free cell.
		c.Span = [2]int{1, 1}
		c.Style = "caption"
		c.Sync = listen(it)
	case KindLog:
		c.Span = [2]int{3, 4}
		c.ShowTimestamps = true
		c.AutoScroll = true
		c.Sync = listen(it)
	}
}

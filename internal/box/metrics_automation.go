package box

import (
	"context"
	"time"

	"github.com/meshbox/meshbox/internal/automation"
	"github.com/meshbox/meshbox/internal/metrics"
)

// statusTimeout bounds a scrape's wait for the automation engine.
const statusTimeout = 2 * time.Second

// automationFamilies are the thermostats' and automations' gauges (none
// without any configured).
func (b *Box) automationFamilies() []metrics.Family {
	st := b.hw.auto
	if st == nil {
		return nil
	}
	units := map[string]string{} // thermostat id -> its sensor field's unit
	for _, f := range metrics.LayoutOf(b.cfg).Fields {
		for _, th := range b.cfg.Thermostats {
			if th.Sensor == f.ID {
				units[th.ID] = f.Unit
			}
		}
	}
	each := func(fn func(s automation.Status, emit metrics.Emit)) func(metrics.Emit) {
		return func(emit metrics.Emit) {
			ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
			defer cancel()
			ss, err := st.engine.Status(ctx)
			if err != nil {
				return // stopping: no samples rather than stale ones
			}
			for _, s := range ss {
				fn(s, emit)
			}
		}
	}
	return []metrics.Family{
		gauge("meshbox_thermostat_target_celsius", "Thermostat target temperature (thermostats on a temperature field).",
			each(func(s automation.Status, emit metrics.Emit) {
				if s.Kind != "thermostat" || s.Target == nil {
					return
				}
				if fam, v, ok := metrics.BaseUnit(units[s.ID], *s.Target); ok && fam == "meshbox_temperature_celsius" {
					emit(v, "thermostat", s.ID)
				}
			})),
		gauge("meshbox_automation_enabled", "1 while the thermostat or automation is enabled.",
			each(func(s automation.Status, emit metrics.Emit) { emit(b2f(s.Enabled), "id", s.ID, "kind", s.Kind) })),
		gauge("meshbox_automation_state", "1 for the current state of each thermostat (heating, cooling, idle, stale, override, waiting) and automation (idle, waiting, active, running, stale, disabled, clock-invalid).",
			each(func(s automation.Status, emit metrics.Emit) { emit(1, "id", s.ID, "kind", s.Kind, "state", s.State) })),
		gauge("meshbox_automation_fail_safe", "1 while a thermostat or automation holds its outputs in their safe state (a stale, NaN or failing sensor).",
			each(func(s automation.Status, emit metrics.Emit) {
				emit(b2f(s.State == "stale"), "id", s.ID, "kind", s.Kind)
			})),
		gauge("meshbox_automation_last_run_timestamp_seconds", "Unix time an automation last ran its actions.",
			each(func(s automation.Status, emit metrics.Emit) {
				if !s.LastRun.IsZero() {
					emit(float64(s.LastRun.UnixMilli())/1000, "id", s.ID)
				}
			})),
	}
}

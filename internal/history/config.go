package history

import "github.com/meshbox/meshbox/internal/config"

// OptionsFrom maps the config's history block onto Options (Dir, Logger
// and Now are the caller's). Every configured series is in Fields with its
// unit, so Declare is not needed for them.
func OptionsFrom(cfg *config.Config) Options {
	h := cfg.History
	def := Policy{Raw: *h.Raw, Minute: *h.Rollup1m, Quarter: *h.Rollup15m, Disabled: h.Disabled}
	fields := map[string]Policy{}
	for _, s := range cfg.Series() {
		p := def
		p.Unit = s.Unit
		if f, ok := h.Fields[s.Name]; ok {
			p.Disabled = p.Disabled || f.Disabled
			p.Raw, p.Minute, p.Quarter, p.Resolution = *f.Raw, *f.Rollup1m, *f.Rollup15m, f.Resolution
		}
		fields[s.Name] = p
	}
	for name, f := range h.Fields { // serial keys not listed as fields
		if _, ok := fields[name]; !ok {
			fields[name] = Policy{Disabled: h.Disabled || f.Disabled, Raw: *f.Raw, Minute: *f.Rollup1m, Quarter: *f.Rollup15m, Resolution: f.Resolution}
		}
	}
	return Options{FlushInterval: h.FlushInterval, Default: &def, Fields: fields}
}

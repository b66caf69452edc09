// Package filter is a sensor field's filter chain (config field
// "filters:"), applied by the bridge to each reading before it becomes a
// metric: median and moving_average over the last N readings, calibrate
// (a least-squares line through [measured, true] pairs), clamp, delta
// (publish only after a change of at least D), throttle (at most one value
// per period). timeout does not change values: a field with no reading for
// that long is stale for thermostats and automations (internal/automation).
//
// A Chain is not safe for concurrent use; each sensor goroutine owns its
// chains.
package filter

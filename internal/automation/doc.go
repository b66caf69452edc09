// Package automation runs a box's own logic: thermostats and automations
// (rules and schedules) from the config's thermostats: and automations:.
//
// An Engine owns all of its state on one goroutine (Run). It is fed the
// box's current values (Feed: output/input states, sensor metrics, sensor
// errors — adapted from bridge events) and acts only through an Actuator,
// the same entry point a phone uses ((*bridge.Bridge).Apply), so
// interlocks, max_on and the actuation rate apply to rules as well; every
// action names its origin "automation:<id>" or "thermostat:<id>".
//
// Semantics (docs/automations.md):
//   - when: rules are edge-triggered: Do runs when the expression becomes
//     true (and has stayed true for for:), Else when it becomes false. A
//     change the rule made itself never counts as an edge for that rule.
//     At start (and when re-enabled, or when its sensors are fresh again) a
//     rule evaluates from "unknown", so its Do or Else says what holds now.
//   - Fail-safe: a sensor field a rule or thermostat reads that is stale
//     (no reading within stale:), NaN or failing drives the outputs that
//     depend on it off, logs it with the rule id and shows status "stale".
//   - Schedules (at:, cron:, sunrise:, sunset:) run only while the clock
//     is valid (Options.ClockValid; on Linux the kernel's NTP sync status);
//     otherwise they are skipped with a warning and status "clock-invalid".
//     At start, and when the clock becomes valid, the engine replays each
//     schedule's most recent occurrence to what it says now (a power cut
//     does not leave the lights as they were) and continues its remaining
//     delays. Times are wall-clock in Options.Location (the system zone),
//     DST included.
//   - Visible: each thermostat's and automation's Status reaches the box
//     through Options.OnStatus; StatusValues turns it into the read-only
//     controls phones and the page show ("<id>_status", and an
//     automation's "<id>_last_run").
//   - Thermostats switch with hysteresis (deadband), honour min_on and
//     min_off, and turn the output off when their sensor is stale. A phone
//     switching the output overrides the thermostat until its next
//     transition (or for override:).
package automation

package config

import "time"

// Thermostat modes.
const (
	ModeHeat = "heat"
	ModeCool = "cool"
)

// Thermostat switches one output to hold a sensor field at a target. Its id
// is a control whose value is the target (settable with set/cmd).
type Thermostat struct {
	ID     string  `yaml:"id"`     // §4.4 grammar, unique among all ids
	Label  string  `yaml:"label"`  // default: ID
	Sensor string  `yaml:"sensor"` // a sensor field (metric key)
	Output string  `yaml:"output"` // a switch output
	Mode   string  `yaml:"mode"`   // heat (default) | cool
	Target float64 `yaml:"target"` // required
	// Deadband: heat turns on below target-deadband and off above
	// target+deadband; cool mirrored (default 0.5).
	Deadband float64       `yaml:"deadband"`
	MinOn    time.Duration `yaml:"min_on"`  // shortest on time (default 0)
	MinOff   time.Duration `yaml:"min_off"` // shortest off time (default 0)
	// Stale: no fresh reading this long (or NaN, or a read error) turns the
	// output off (default 60s, at least 3 sensor intervals).
	Stale time.Duration `yaml:"stale"`
	// Range is [min, max] of targets a phone may set (default [5, 30],
	// widened to include Target).
	Range []float64 `yaml:"range"`
	// Override: after a phone switches the output, the thermostat leaves it
	// alone this long; 0 (default) = until the next transition.
	Override time.Duration `yaml:"override"`
}

// Automation is a rule: a trigger (when, at, cron, sunrise, sunset, on,
// every) and the actions it runs. Its id is a control whose value is
// whether it is enabled.
type Automation struct {
	ID      string `yaml:"id"`                // §4.4 grammar, unique among all ids
	Label   string `yaml:"label,omitempty"`   // default: ID
	Enabled *bool  `yaml:"enabled,omitempty"` // default true

	// When is an expression over current values (sensor fields, outputs,
	// inputs, thermostat targets, automation enabled flags), compiled with
	// expr-lang at load; the rule runs Do when it becomes true (edge), Else
	// when it becomes false.
	When string        `yaml:"when,omitempty"`
	For  time.Duration `yaml:"for,omitempty"` // When must hold this long before Do
	// Stale: a sensor field When reads that has no fresh reading this long
	// (or fails) puts the outputs this rule sets in their safe state (off);
	// default 60s, at least 3 sensor intervals.
	Stale time.Duration `yaml:"stale,omitempty"`

	At      string        `yaml:"at,omitempty"`      // "HH:MM" or "HH:MM:SS", local time, every day
	Cron    string        `yaml:"cron,omitempty"`    // 5-field cron ("30 6 * * 1-5"), local time
	Sunrise *string       `yaml:"sunrise,omitempty"` // offset from sunrise ("-20m", "0"); needs location
	Sunset  *string       `yaml:"sunset,omitempty"`  // offset from sunset ("+10m"); needs location
	On      string        `yaml:"on,omitempty"`      // "boot"
	Every   time.Duration `yaml:"every,omitempty"`   // a fixed period (at least 1s)

	Do   []Action `yaml:"do,omitempty"`
	Else []Action `yaml:"else,omitempty"` // when rules only

	// Trigger is the resolved trigger kind (TriggerWhen, ...), set by Load.
	Trigger string `yaml:"-"`
	// Offset is the parsed sunrise/sunset offset, set by Load.
	Offset time.Duration `yaml:"-"`
	// Names are the values When reads, in order, set by Load; Sensors
	// the sensor fields among them.
	Names   []string `yaml:"-"`
	Sensors []string `yaml:"-"`
}

// Trigger kinds (Automation.Trigger).
const (
	TriggerWhen    = "when"
	TriggerAt      = "at"
	TriggerCron    = "cron"
	TriggerSunrise = "sunrise"
	TriggerSunset  = "sunset"
	TriggerBoot    = "on"
	TriggerEvery   = "every"
)

// Action is one step of an automation; exactly one of Set, Pulse, Command,
// Delay, Notify, Enable, Disable is given.
type Action struct {
	Set   string `yaml:"set,omitempty"`   // output id (or thermostat id: its target)
	Value any    `yaml:"value,omitempty"` // for set: bool or number; for command: its argument
	// Pulse switches an output on for Length (default the output's pulse),
	// then off.
	Pulse  string        `yaml:"pulse,omitempty"`
	Length time.Duration `yaml:"length,omitempty"`
	// Command is "all_off", or a serial device command
	// ("<serial id>.<command>", Value its argument).
	Command string        `yaml:"command,omitempty"`
	Delay   time.Duration `yaml:"delay,omitempty"`
	Notify  string        `yaml:"notify,omitempty"`  // a message broadcast as {"msg_type":"notify"}
	Enable  string        `yaml:"enable,omitempty"`  // an automation id
	Disable string        `yaml:"disable,omitempty"` // an automation id
}

// Location is where the box is, for sunrise and sunset.
type Location struct {
	Lat float64 `yaml:"lat"` // degrees north (-90..90)
	Lon float64 `yaml:"lon"` // degrees east (-180..180)
}

// Filter is one step of a sensor field's filter chain; exactly one key is
// given. See internal/filter.
type Filter struct {
	Median        int           `yaml:"median,omitempty"`         // median of the last N readings
	MovingAverage int           `yaml:"moving_average,omitempty"` // mean of the last N readings
	Calibrate     [][]float64   `yaml:"calibrate,omitempty"`      // [[measured, true], ...]: least-squares line
	Clamp         []float64     `yaml:"clamp,omitempty"`          // [min, max]
	Delta         float64       `yaml:"delta,omitempty"`          // publish only after a change of at least this
	Throttle      time.Duration `yaml:"throttle,omitempty"`       // publish at most once per this
	Timeout       time.Duration `yaml:"timeout,omitempty"`        // no reading this long: the field is stale
}

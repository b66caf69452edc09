package config

import (
	"time"

	"github.com/meshbox/meshbox/internal/relay"
)

// Config is the whole meshbox configuration, one YAML file
// (default /etc/meshbox/meshbox.yaml). Load fills defaults and validates it;
// the result is read-only afterwards.
type Config struct {
	// Path is the file it was loaded from ("" for the built-in demo).
	Path string `yaml:"-"`

	Name    string `yaml:"name"`    // bridge member name (default "meshbox"); §4.4 grammar
	Channel string `yaml:"channel"` // default "home"; §4.4 grammar
	Token   string `yaml:"token"`   // shared key; MESH_AUTH_TOKEN wins; empty = generated and stored in StateDir
	Auth    string `yaml:"auth"`    // "" (token) or "none" (open relay, warned)
	// E2EE makes the room end-to-end encrypted (spec §15.5, room mode "grp v2"):
	// a 32-byte room key is generated at first start and kept (0600) in StateDir;
	// it travels only where the token does (pairing QR "k", the pairing layout).
	E2EE bool `yaml:"e2ee"`
	// Board is "auto" (default), "pi-zero", "pi-zero-2w", "pi3", "pi4", "pi5"
	// or an alias ("pi400", "zero2w", ...); Load stores the canonical name.
	Board  string `yaml:"board"`
	Listen string `yaml:"listen"` // default ":8765"
	// BoardModel is the header pins were resolved against: Board, or for
	// "auto" the model passed to ParseFor/LoadFor, else board.Default (pi4;
	// every supported model has the same GPIO numbering on its header).
	BoardModel string `yaml:"-"`
	// StateDir keeps the generated token, restore states, pairing data (default /var/lib/meshbox).
	StateDir string `yaml:"state_dir"`
	// AdvertiseURL overrides the ws:// URL put in the pairing QR and layout.
	AdvertiseURL string `yaml:"advertise_url"`

	// Relay holds the embedded relay's knobs; zero fields get relay.DefaultConfig().
	Relay relay.Config `yaml:"relay"`

	Outputs    []Output       `yaml:"outputs"`
	Inputs     []Input        `yaml:"inputs"`
	Sensors    []Sensor       `yaml:"sensors"`
	Serial     []SerialDevice `yaml:"serial"`
	Interlocks []Interlock    `yaml:"interlocks"`

	// Thermostats and Automations are the logic the box runs on its own
	// (docs/automations.md); Location places it for sunrise/sunset.
	Thermostats []Thermostat `yaml:"thermostats"`
	Automations []Automation `yaml:"automations"`
	Location    *Location    `yaml:"location"`
	// Clock: "synced" (default): schedules run only while the system clock
	// is synchronised (NTP; adjtimex); "any": trust the clock as it is (an
	// RTC without NTP).
	Clock string `yaml:"clock"`

	// ActuationRate: the most output changes per second per output (default 5;
	// must be > 0); further commands are refused with command_ack ok:false.
	ActuationRate float64 `yaml:"actuation_rate"`

	Pairing  Pairing   `yaml:"pairing"`
	MDNS     MDNS      `yaml:"mdns"`
	Layout   Layout    `yaml:"layout"`
	MQTT     *MQTT     `yaml:"mqtt"`
	Upstream *Upstream `yaml:"upstream"`

	// History is what the box remembers (internal/history; docs/history.md).
	History History `yaml:"history"`
}

// History tunes the history kept in StateDir/history: per series (each
// sensor field, each output's state) raw points, one-minute and
// fifteen-minute min/avg/max rollups. A retention of 0 disables that tier.
type History struct {
	Disabled bool `yaml:"disabled"`
	// FlushInterval is the most often history is written (default 5m, at
	// least 10s, at most 1h); a power cut loses at most this window.
	FlushInterval time.Duration  `yaml:"flush_interval"`
	Raw           *time.Duration `yaml:"raw"`        // default 24h
	Rollup1m      *time.Duration `yaml:"rollup_1m"`  // default 168h (7 days)
	Rollup15m     *time.Duration `yaml:"rollup_15m"` // default 8760h (365 days)
	// Fields overrides the above per series (a metric key or an output id).
	Fields map[string]HistoryField `yaml:"fields"`
}

// HistoryField tunes or disables one series; unset retentions inherit the
// history block's.
type HistoryField struct {
	Disabled  bool           `yaml:"disabled"`
	Raw       *time.Duration `yaml:"raw"`
	Rollup1m  *time.Duration `yaml:"rollup_1m"`
	Rollup15m *time.Duration `yaml:"rollup_15m"`
	// Resolution rounds readings to a multiple of it (e.g. 0.1); default:
	// six significant digits.
	Resolution float64 `yaml:"resolution"`
}

// Pin is a GPIO line: a BCM number on the board's header, or a line on a named
// chip ("gpiochip0:17" in YAML). Phys, when set ("phys:11"), is the header pin.
//
// YAML forms: 17, "17", "GPIO17", "BCM17", "phys:11" or "pin11" (header pin,
// resolved through the board), "gpiochip0:17" (chip and line, not checked
// against the header). After Load, header pins have BCM, Line (= BCM) and
// Phys set; chip lines have BCM -1, Chip and Line.
type Pin struct {
	BCM  int    // -1 when Chip is set
	Chip string // "" = header chip
	Line int
	Raw  string // as written, for messages
	Phys int    // physical header pin 1..40 (0 for chip lines)
}

// Output kinds.
const (
	KindSwitch    = "switch"
	KindMomentary = "momentary"
	KindPWM       = "pwm"
)

// Output is a relay, LED, or PWM channel the phone can switch.
type Output struct {
	ID         string        `yaml:"id"`    // §4.4 grammar, unique among all ids
	Label      string        `yaml:"label"` // default: ID
	Pin        Pin           `yaml:"pin"`
	ActiveLow  bool          `yaml:"active_low"`
	Kind       string        `yaml:"kind"`        // switch (default) | momentary | pwm
	Boot       string        `yaml:"boot"`        // off (default) | on | restore; pwm: off|restore
	Exit       string        `yaml:"exit"`        // off (default) | on | keep
	Pulse      time.Duration `yaml:"pulse"`       // momentary pulse length, also the "pulse" command on a switch (default 500ms; pwm: 0)
	Frequency  float64       `yaml:"frequency"`   // pwm Hz (default 1000; 0 for other kinds)
	PWMChip    int           `yaml:"pwm_chip"`    // /sys/class/pwm/pwmchipN (pwm only; default from the board's table unless written)
	PWMChannel int           `yaml:"pwm_channel"` // channel (pwm only; default from the board's table unless written)
	MaxOn      time.Duration `yaml:"max_on"`      // auto-off after this long on (0 = never)
	Icon       string        `yaml:"icon"`
}

// Input is a button, switch or contact read by the bridge.
type Input struct {
	ID        string        `yaml:"id"`    // §4.4 grammar, unique among all ids
	Label     string        `yaml:"label"` // default: ID
	Pin       Pin           `yaml:"pin"`
	Pull      string        `yaml:"pull"` // up (default) | down | none
	ActiveLow bool          `yaml:"active_low"`
	Debounce  time.Duration `yaml:"debounce"` // default 20ms
	// Broadcast on an edge: "state" (default: {"msg_type":"state","target":id,"value":bool}),
	// "event" (also {"msg_type":"input","target":id,"edge":"rising|falling"}), or "none".
	Broadcast string `yaml:"broadcast"`
	// Pairing marks the input as the pairing button (opens the pairing window).
	Pairing bool `yaml:"pairing"`
}

// Sensor drivers.
const (
	DriverBME280  = "bme280"
	DriverSHT3x   = "sht3x"
	DriverBH1750  = "bh1750"
	DriverADS1115 = "ads1115"
	DriverINA219  = "ina219"
	DriverTMP102  = "tmp102" // also lm75, tmp105 (aliases)
	DriverDS18B20 = "ds18b20"
	DriverCPUTemp = "cputemp"
	DriverSim     = "sim" // simulated drift (demo / tests)
)

// Sensor is a periodically read device whose fields become metrics.
type Sensor struct {
	ID    string `yaml:"id"`    // §4.4 grammar, unique among all ids
	Label string `yaml:"label"` // default: ID
	// Driver is one of the Driver* constants or an alias internal/sensor
	// accepts ("lm75", "tmp105"); stored lower-case.
	Driver   string        `yaml:"driver"`
	Bus      string        `yaml:"bus"`      // I²C bus, default "1" (I²C drivers only; "" for others)
	Address  uint16        `yaml:"address"`  // I²C address (driver default when 0, from sensor.Drivers: bme280 0x76, sht3x 0x44, bh1750 0x23, ads1115 0x48, ina219 0x40, tmp102 0x48)
	Path     string        `yaml:"path"`     // sysfs path (ds18b20 device dir or id, "" = first 28-* device; cputemp default /sys/class/thermal/thermal_zone0/temp)
	Interval time.Duration `yaml:"interval"` // default 2s; at least 100ms
	// Fields selects and renames the driver's fields: metric key -> driver field.
	// Empty = every driver field as "<id>_<field>".
	Fields []Field `yaml:"fields"`
}

// Field is one metric published by a sensor.
type Field struct {
	Name   string  `yaml:"name"`   // metric key in the metrics frame (required; §4.4 grammar)
	Source string  `yaml:"source"` // driver field (temperature, humidity, pressure, lux, ch0.., voltage, current, power); default: Name
	Unit   string  `yaml:"unit"`   // default: the driver field's unit (°C, %RH, hPa, lx, V, A, W) for sensors
	Label  string  `yaml:"label"`  // default: Name
	Min    float64 `yaml:"min"`    // gauge range (driver default when both 0)
	Max    float64 `yaml:"max"`
	Scale  float64 `yaml:"scale"`  // multiply (default 1)
	Offset float64 `yaml:"offset"` // then add
	// Filters run in order on every reading after Scale/Offset, before it
	// becomes a metric (sensors only).
	Filters []Filter `yaml:"filters"`
}

// Serial framings.
const (
	FramingKV   = "kv"   // key=value pairs per line
	FramingJSON = "json" // one JSON object per line
	FramingText = "text" // raw text line -> {"<id>": "<line>"}
)

// SerialDevice is a microcontroller or instrument on a UART/USB serial port.
type SerialDevice struct {
	ID      string `yaml:"id"`      // §4.4 grammar, unique among all ids
	Label   string `yaml:"label"`   // default: ID
	Port    string `yaml:"port"`    // required: /dev/ttyUSB0, /dev/serial0 (reserves BCM14/15), ...
	Baud    int    `yaml:"baud"`    // default 115200
	Framing string `yaml:"framing"` // kv (default) | json | text
	// Commands maps a command name (phone {"msg_type":"command","command":name}
	// or cmd target "<id>" with value) to the line written; "{{value}}" is substituted.
	Commands map[string]string `yaml:"commands"`
	Fields   []Field           `yaml:"fields"` // optional units/ranges for parsed keys
}

// Interlock is a group of outputs of which at most one may be on; switching
// between them waits DeadTime with all off.
type Interlock struct {
	ID       string        `yaml:"id"`        // default "interlock<N>" (1-based)
	Outputs  []string      `yaml:"outputs"`   // at least two switch output ids
	DeadTime time.Duration `yaml:"dead_time"` // default 0 (no pause)
}

// Pairing controls when the QR (and so the token) is shown on the page.
type Pairing struct {
	Window time.Duration `yaml:"window"` // open after boot/button (default 10m)
	Always bool          `yaml:"always"`
}

// MDNS controls DNS-SD advertisement.
type MDNS struct {
	Disabled bool   `yaml:"disabled"`
	Hostname string `yaml:"hostname"`
}

// Layout overrides the generated phone layout.
type Layout struct {
	Title  string                `yaml:"title"`
	Accent string                `yaml:"accent"`
	Tabs   []LayoutTab           `yaml:"tabs"`
	Items  map[string]LayoutItem `yaml:"items"` // by control id
}

// LayoutTab orders controls into a named tab.
type LayoutTab struct {
	Title    string   `yaml:"title"`
	Icon     string   `yaml:"icon"`
	Controls []string `yaml:"controls"`
}

// LayoutItem overrides one control.
type LayoutItem struct {
	Label string `yaml:"label"`
	Icon  string `yaml:"icon"`
	Tint  string `yaml:"tint"`
	Order int    `yaml:"order"`
	Type  string `yaml:"type"` // e.g. gauge | label | sparkline for a sensor field
}

// MQTT connects the bridge to a broker (optional).
type MQTT struct {
	URL             string `yaml:"url"` // mqtt://host:1883, mqtts://host:8883
	Username        string `yaml:"username"`
	Password        string `yaml:"password"`
	ClientID        string `yaml:"client_id"`
	BaseTopic       string `yaml:"base_topic"` // default meshbox/<name>
	QoS             int    `yaml:"qos"`
	Retain          *bool  `yaml:"retain"`
	CAFile          string `yaml:"ca_file"`
	CertFile        string `yaml:"cert_file"`
	KeyFile         string `yaml:"key_file"`
	Discovery       *bool  `yaml:"discovery"`        // Home Assistant discovery (default true)
	DiscoveryPrefix string `yaml:"discovery_prefix"` // default homeassistant
}

// Upstream joins another MeshSocket relay as a client (optional).
type Upstream struct {
	URL     string `yaml:"url"`
	Token   string `yaml:"token"`
	Name    string `yaml:"name"`    // default: Name
	Channel string `yaml:"channel"` // default: Channel
	CAFile  string `yaml:"ca_file"`
	// IDPrefix namespaces control ids on the upstream link (default
	// "<name>.", so many boxes share one dashboard); "" sends plain ids,
	// for remote access to a single box.
	IDPrefix *string `yaml:"id_prefix"`
}

package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/meshbox/meshbox/board"
)

func lookupHeader(model string) (board.Header, error) { return board.Lookup(model) }

// identRE is the §4.4 identity grammar; namespacedRE its gateway form.
func identRE() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`) }
func namespacedRE() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9]{1,32}\.[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
}

// ValidID reports whether s is a valid control id (the §4.4 identity grammar
// without the namespaced form).
func ValidID(s string) bool { return identRE().MatchString(s) }

// ValidName reports whether s is a valid member name or channel (§4.4,
// including the gateway's "<digits>.<ident>" form).
func ValidName(s string) bool { return identRE().MatchString(s) || namespacedRE().MatchString(s) }

// uartPorts are the device names of the header UART (BCM14/15).
func uartPorts() map[string]bool {
	return map[string]bool{"/dev/serial0": true, "/dev/ttyAMA0": true, "/dev/ttyS0": true}
}

type validator struct {
	cfg   *Config
	h     board.Header
	c     *collector
	pins  map[string]string // claim key -> owner
	ids   map[string]string // id -> field path of first use
	kinds map[string]string // output id -> kind
}

func validate(cfg *Config, h board.Header, c *collector) {
	v := &validator{cfg: cfg, h: h, c: c, pins: map[string]string{}, ids: map[string]string{}, kinds: map[string]string{}}
	v.top()
	v.buses()
	for i := range cfg.Outputs {
		v.output(i)
	}
	for i := range cfg.Inputs {
		v.input(i)
	}
	for i := range cfg.Sensors {
		v.sensor(i)
	}
	for i := range cfg.Serial {
		v.serial(i)
	}
	for i := range cfg.Interlocks {
		v.interlock(i)
	}
	v.metricKeys()
	v.logic()
	v.history()
}

func (v *validator) top() {
	cfg, c := v.cfg, v.c
	if !ValidName(cfg.Name) {
		c.add("name", "%q is not a valid member name (letters, digits, '_' and '-', up to 64, starting with a letter or digit)", cfg.Name)
	}
	if !ValidName(cfg.Channel) {
		c.add("channel", "%q is not a valid channel name (letters, digits, '_' and '-', up to 64, starting with a letter or digit)", cfg.Channel)
	}
	switch cfg.Auth {
	case "", "token", "none":
	default:
		c.add("auth", "%q is not one of token, none", cfg.Auth)
	}
	if cfg.E2EE && cfg.Auth == "none" {
		c.add("e2ee", "needs token authentication: with auth: none the pairing QR, and the room key in it, is shown to anyone who opens the page")
	}
	if _, port, err := net.SplitHostPort(cfg.Listen); err != nil {
		c.add("listen", "%q is not HOST:PORT (e.g. \":8765\")", cfg.Listen)
	} else if !validPort(port) {
		c.add("listen", "port %q is not 1..65535", port)
	}
	if cfg.AdvertiseURL != "" {
		v.url("advertise_url", cfg.AdvertiseURL, "ws", "wss", "http", "https")
	}
	if cfg.ActuationRate < 0 || math.IsNaN(cfg.ActuationRate) || math.IsInf(cfg.ActuationRate, 0) {
		c.add("actuation_rate", "must be a positive number of changes per second")
	}
	v.nonNegative("pairing.window", cfg.Pairing.Window)
	if cfg.Pairing.Window == 0 && !cfg.Pairing.Always {
		c.add("pairing.window", "must be > 0; use always: true to keep pairing open")
	}
	if m := cfg.MQTT; m != nil {
		if m.URL == "" {
			c.add("mqtt.url", "is required (mqtt://host:1883)")
		} else {
			v.url("mqtt.url", m.URL, "mqtt", "mqtts", "tcp", "ssl", "tls", "ws", "wss")
		}
		if m.QoS < 0 || m.QoS > 2 {
			c.add("mqtt.qos", "%d is not 0, 1 or 2", m.QoS)
		}
	}
	if u := cfg.Upstream; u != nil {
		if u.URL == "" {
			c.add("upstream.url", "is required (wss://relay.example:8765)")
		} else {
			v.url("upstream.url", u.URL, "ws", "wss")
		}
		if !ValidName(u.Name) {
			c.add("upstream.name", "%q is not a valid member name", u.Name)
		}
		if !ValidName(u.Channel) {
			c.add("upstream.channel", "%q is not a valid channel name", u.Channel)
		}
	}
}

func validPort(p string) bool {
	n := 0
	for _, r := range p {
		if r < '0' || r > '9' || n > 65535 {
			return false
		}
		n = n*10 + int(r-'0')
	}
	return p != "" && n >= 1 && n <= 65535
}

func (v *validator) url(field, raw string, schemes ...string) {
	u, err := url.Parse(raw)
	if err != nil {
		v.c.add(field, "%q is not a URL", raw)
		return
	}
	ok := false
	for _, s := range schemes {
		ok = ok || strings.EqualFold(u.Scheme, s)
	}
	if !ok {
		v.c.add(field, "scheme %q is not one of %s", u.Scheme, strings.Join(schemes, ", "))
		return
	}
	if u.Host == "" {
		v.c.add(field, "%q has no host", raw)
	}
}

func (v *validator) nonNegative(field string, d time.Duration) {
	if d < 0 {
		v.c.add(field, "duration %s is negative", d)
	}
}

// id checks grammar and uniqueness of a control id.
func (v *validator) id(field, id string) {
	if id == "" {
		v.c.add(field, "is required")
		return
	}
	if !ValidID(id) {
		v.c.add(field, "%q is not a valid id (letters, digits, '_' and '-', up to 64, starting with a letter or digit)", id)
		return
	}
	if prev, ok := v.ids[id]; ok {
		v.c.add(field, "id %q is already used by %s", id, prev)
		return
	}
	v.ids[id] = field[:strings.LastIndexByte(field, '.')]
}

func (v *validator) enum(field, val string, allowed ...string) bool {
	for _, a := range allowed {
		if val == a {
			return true
		}
	}
	v.c.add(field, "%q is not one of %s", val, strings.Join(allowed, ", "))
	return false
}

func bcmKey(bcm int) string { return fmt.Sprintf("bcm:%d", bcm) }

// buses reserves the pins of every bus the config enables.
func (v *validator) buses() {
	v.pins[bcmKey(0)] = "the HAT ID EEPROM (I2C0 ID_SD)"
	v.pins[bcmKey(1)] = "the HAT ID EEPROM (I2C0 ID_SC)"
	drivers := Drivers()
	claim := func(group, owner string) {
		for _, b := range v.h.GroupPins(group) {
			if _, ok := v.pins[bcmKey(b)]; !ok {
				v.pins[bcmKey(b)] = owner
			}
		}
	}
	for _, s := range v.cfg.Sensors {
		d, ok := drivers[s.Driver]
		switch {
		case !ok:
		case d.I2C && s.Bus == "1":
			claim(board.GroupI2C1, fmt.Sprintf("i2c (sensor %q)", s.ID))
		case d.Name == DriverDS18B20:
			claim(board.GroupW1, fmt.Sprintf("1-wire (sensor %q)", s.ID))
		}
	}
	for _, sd := range v.cfg.Serial {
		if uartPorts()[sd.Port] {
			claim(board.GroupUART0, fmt.Sprintf("the UART (serial %q on %s)", sd.ID, sd.Port))
		}
	}
}

// pin resolves and claims a pin for owner.
func (v *validator) pin(field string, p *Pin, owner string) bool {
	r, err := ResolvePin(p.Raw, v.h)
	if err != nil {
		v.c.add(field, "%v", err)
		return false
	}
	*p = r
	key := bcmKey(r.BCM)
	what := fmt.Sprintf("BCM %d", r.BCM)
	if r.Chip != "" {
		key = fmt.Sprintf("chip:%s:%d", strings.TrimPrefix(r.Chip, "/dev/"), r.Line)
		what = r.String()
	}
	if prev, ok := v.pins[key]; ok {
		v.c.add(field, "%s is used by %s", what, prev)
		return false
	}
	v.pins[key] = owner
	return true
}

func (v *validator) output(i int) {
	o := &v.cfg.Outputs[i]
	f := fmt.Sprintf("outputs[%d].", i)
	v.id(f+"id", o.ID)
	v.kinds[o.ID] = o.Kind
	pinOK := v.pin(f+"pin", &o.Pin, fmt.Sprintf("output %q", o.ID))
	if !v.enum(f+"kind", o.Kind, KindSwitch, KindMomentary, KindPWM) {
		return
	}
	if o.Kind == KindPWM {
		v.enum(f+"boot", o.Boot, "off", "restore")
	} else {
		v.enum(f+"boot", o.Boot, "off", "on", "restore")
	}
	v.enum(f+"exit", o.Exit, "off", "on", "keep")
	v.nonNegative(f+"pulse", o.Pulse)
	v.nonNegative(f+"max_on", o.MaxOn)
	switch o.Kind {
	case KindMomentary:
		if o.MaxOn != 0 {
			v.c.add(f+"max_on", "does not apply to a momentary output (it turns off after pulse)")
		}
		switch {
		case o.Pulse < 0: // reported by nonNegative above
		case o.Pulse == 0:
			v.c.add(f+"pulse", "must be positive for a momentary output")
		case o.Pulse > MaxPulse:
			v.c.add(f+"pulse", "%s is longer than %s: a momentary output is a short pulse (use a switch with max_on for longer)", o.Pulse, MaxPulse)
		}
		if o.Boot == "on" {
			v.c.add(f+"boot", "a momentary output cannot boot on")
		}
		if o.Exit == "on" {
			v.c.add(f+"exit", "a momentary output cannot exit on")
		}
	case KindPWM:
		if o.Frequency <= 0 || o.Frequency > 10e6 || math.IsNaN(o.Frequency) {
			v.c.add(f+"frequency", "%g Hz is not in (0, 10 MHz]", o.Frequency)
		}
		if o.PWMChip < 0 || o.PWMChannel < 0 {
			v.c.add(f+"pwm_chip", "pwm_chip and pwm_channel must not be negative")
		}
		if pinOK {
			v.pwm(f, o)
		}
	default:
		if v.c.pos.has(f + "frequency") {
			v.c.add(f+"frequency", "applies only to kind pwm")
		}
	}
}

func (v *validator) pwm(f string, o *Output) {
	explicit := v.c.pos.has(f+"pwm_chip") && v.c.pos.has(f+"pwm_channel")
	if o.Pin.Chip != "" {
		if !explicit {
			v.c.add(f+"pin", "a pwm output on %s needs pwm_chip and pwm_channel", o.Pin)
		}
	} else if _, ok := v.h.PWM(o.Pin.BCM); !ok && !explicit {
		v.c.add(f+"pin", "BCM %d has no hardware PWM on %s (use BCM 12, 13, 18 or 19)", o.Pin.BCM, v.h.Model)
		return
	}
	key := fmt.Sprintf("pwm:%d:%d", o.PWMChip, o.PWMChannel)
	if prev, ok := v.pins[key]; ok {
		v.c.add(f+"pin", "PWM channel pwmchip%d/%d is already used by %s", o.PWMChip, o.PWMChannel, prev)
		return
	}
	v.pins[key] = fmt.Sprintf("output %q", o.ID)
}

func (v *validator) input(i int) {
	in := &v.cfg.Inputs[i]
	f := fmt.Sprintf("inputs[%d].", i)
	v.id(f+"id", in.ID)
	v.pin(f+"pin", &in.Pin, fmt.Sprintf("input %q", in.ID))
	v.enum(f+"pull", in.Pull, "up", "down", "none")
	v.enum(f+"broadcast", in.Broadcast, "state", "event", "none")
	v.nonNegative(f+"debounce", in.Debounce)
	if in.Pairing {
		for j := 0; j < i; j++ {
			if v.cfg.Inputs[j].Pairing {
				v.c.add(f+"pairing", "input %q is already the pairing button", v.cfg.Inputs[j].ID)
				break
			}
		}
	}
}

func (v *validator) sensor(i int) {
	s := &v.cfg.Sensors[i]
	f := fmt.Sprintf("sensors[%d].", i)
	v.id(f+"id", s.ID)
	if s.Interval < 0 {
		v.nonNegative(f+"interval", s.Interval)
	} else if s.Interval < 100*time.Millisecond {
		v.c.add(f+"interval", "%s is shorter than 100ms (leave interval out for the default %s)", s.Interval, DefaultInterval)
	}
	if s.Driver == "" {
		v.c.add(f+"driver", "is required (one of %s)", driverNames())
		return
	}
	d, ok := Drivers()[s.Driver]
	if !ok {
		v.c.add(f+"driver", "unknown driver %q (one of %s)", s.Driver, driverNames())
		return
	}
	if d.I2C {
		if !d.validAddress(s.Address) {
			v.c.add(f+"address", "0x%02x is not a valid %s address (%s)", s.Address, d.Name, d.addressList())
		}
		for j := 0; j < i; j++ {
			o := v.cfg.Sensors[j]
			if od, ok := Drivers()[o.Driver]; ok && od.I2C && o.Bus == s.Bus && o.Address == s.Address {
				v.c.add(f+"address", "0x%02x on bus %s is already used by sensor %q", s.Address, s.Bus, o.ID)
				break
			}
		}
		if strings.ContainsAny(s.Bus, "/ ") && !strings.HasPrefix(s.Bus, "/dev/i2c-") {
			v.c.add(f+"bus", "%q is not an I²C bus number (\"1\" for /dev/i2c-1)", s.Bus)
		}
	} else {
		if v.c.pos.has(f + "address") {
			v.c.add(f+"address", "driver %s is not on I²C", d.Name)
		}
		if v.c.pos.has(f + "bus") {
			v.c.add(f+"bus", "driver %s is not on I²C", d.Name)
		}
	}
	v.fields(f, s.Fields, d)
}

func (v *validator) fields(f string, fs []Field, d DriverInfo) {
	v.fieldList(f, fs, d, true)
}

func (v *validator) fieldList(f string, fs []Field, d DriverInfo, sensor bool) {
	seen := map[string]bool{}
	for j, fl := range fs {
		p := fmt.Sprintf("%sfields[%d].", f, j)
		if fl.Name == "" {
			v.c.add(p+"name", "is required")
			continue
		}
		if !ValidID(fl.Name) {
			v.c.add(p+"name", "%q is not a valid metric key", fl.Name)
		}
		if seen[fl.Name] {
			v.c.add(p+"name", "%q is listed twice", fl.Name)
		}
		seen[fl.Name] = true
		if d.Fields != nil {
			if _, ok := d.Fields[fl.Source]; !ok {
				v.c.add(p+"source", "driver %s has no field %q (%s)", d.Name, fl.Source, d.fieldNames())
			}
		}
		if fl.Min > fl.Max {
			v.c.add(p+"min", "min %g is above max %g", fl.Min, fl.Max)
		}
		v.filters(p, fl, sensor)
	}
}

func (v *validator) serial(i int) {
	sd := &v.cfg.Serial[i]
	f := fmt.Sprintf("serial[%d].", i)
	v.id(f+"id", sd.ID)
	if sd.Port == "" {
		v.c.add(f+"port", "is required (e.g. /dev/ttyUSB0)")
	} else {
		for j := 0; j < i; j++ {
			if v.cfg.Serial[j].Port == sd.Port {
				v.c.add(f+"port", "%s is already used by serial %q", sd.Port, v.cfg.Serial[j].ID)
				break
			}
		}
	}
	if sd.Baud <= 0 || sd.Baud > 4_000_000 {
		v.c.add(f+"baud", "%d is not in 1..4000000", sd.Baud)
	}
	v.enum(f+"framing", sd.Framing, FramingKV, FramingJSON, FramingText)
	for name := range sd.Commands {
		if name == "" {
			v.c.add(f+"commands", "a command name is empty")
		}
	}
	v.fieldList(f, sd.Fields, DriverInfo{}, false)
}

func (v *validator) interlock(i int) {
	il := &v.cfg.Interlocks[i]
	f := fmt.Sprintf("interlocks[%d].", i)
	if !ValidID(il.ID) {
		v.c.add(f+"id", "%q is not a valid id", il.ID)
	}
	v.nonNegative(f+"dead_time", il.DeadTime)
	if len(il.Outputs) < 2 {
		v.c.add(f+"outputs", "an interlock needs at least two outputs")
	}
	seen := map[string]bool{}
	var bootOn, exitOn []string
	for j, id := range il.Outputs {
		p := fmt.Sprintf("%soutputs[%d]", f, j)
		kind, ok := v.kinds[id]
		switch {
		case !ok:
			v.c.add(p, "unknown output %q", id)
		case kind != KindSwitch:
			v.c.add(p, "output %q is kind %s; interlocks take switch outputs", id, kind)
		case seen[id]:
			v.c.add(p, "output %q is listed twice", id)
		}
		seen[id] = true
		for _, o := range v.cfg.Outputs {
			if o.ID == id && ok {
				if o.Boot == "on" {
					bootOn = append(bootOn, id)
				}
				if o.Exit == "on" {
					exitOn = append(exitOn, id)
				}
				break
			}
		}
	}
	if len(bootOn) > 1 {
		v.c.add(f+"outputs", "outputs %s all boot on; at most one of an interlock may be on", strings.Join(bootOn, ", "))
	}
	if len(exitOn) > 1 {
		v.c.add(f+"outputs", "outputs %s all exit on; at most one of an interlock may be on", strings.Join(exitOn, ", "))
	}
}

// metricKeys rejects two sensors or serial devices publishing the same
// explicit metric key.
func (v *validator) metricKeys() {
	seen := map[string]string{}
	check := func(f string, fs []Field, owner string) {
		for j, fl := range fs {
			if fl.Name == "" {
				continue
			}
			if prev, ok := seen[fl.Name]; ok && prev != owner {
				v.c.add(fmt.Sprintf("%sfields[%d].name", f, j), "metric %q is also published by %s", fl.Name, prev)
				continue
			}
			seen[fl.Name] = owner
		}
	}
	for i, s := range v.cfg.Sensors {
		check(fmt.Sprintf("sensors[%d].", i), s.Fields, fmt.Sprintf("sensor %q", s.ID))
	}
	for i, s := range v.cfg.Serial {
		check(fmt.Sprintf("serial[%d].", i), s.Fields, fmt.Sprintf("serial %q", s.ID))
	}
}

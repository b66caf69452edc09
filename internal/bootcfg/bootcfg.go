package bootcfg

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/sensor"
)

// Begin and End delimit the meshbox block in config.txt; flash.sh replaces
// whatever stands between them.
const (
	Begin = "# >>> meshbox"
	End   = "# <<< meshbox"
)

// Block is the config.txt block for cfg: Begin, "[all]", the lines, End.
func Block(cfg *config.Config) []string {
	out := []string{Begin + " (meshbox config-txt): buses and power-on output levels", "[all]"}
	out = append(out, Lines(cfg)...)
	return append(out, End)
}

// Lines are the config.txt lines cfg needs, buses first, then one gpio= line
// per header output in configuration order.
func Lines(cfg *config.Config) []string {
	lines := []string{"dtparam=strict_gpiod"}
	if usesKind(cfg, sensor.KindI2C) {
		lines = append(lines, "dtparam=i2c_arm=on")
	}
	if usesDriver(cfg, config.DriverDS18B20) {
		lines = append(lines, "dtoverlay=w1-gpio")
	}
	if l := pwmOverlay(cfg); l != "" {
		lines = append(lines, l)
	}
	if usesHeaderUART(cfg) {
		lines = append(lines, "enable_uart=1")
	}
	for _, o := range cfg.Outputs {
		if o.Pin.Chip != "" || o.Pin.BCM < 0 {
			continue // not on the header: the firmware cannot set it
		}
		lines = append(lines, fmt.Sprintf("gpio=%d=op,%s", o.Pin.BCM, levelCode(PowerOnLevel(o))))
	}
	return lines
}

// PowerOnLevel is the electrical level (true = high) an output must have
// from power-on until meshbox drives its boot state: the active level for
// boot: on, the inactive level otherwise (off, restore — restore is applied
// by meshbox itself — momentary, and PWM at 0 % duty).
func PowerOnLevel(o config.Output) bool {
	on := o.Boot == "on" && o.Kind == config.KindSwitch
	return on != o.ActiveLow
}

func levelCode(high bool) string {
	if high {
		return "dh"
	}
	return "dl"
}

// DefaultPullHigh reports the SoC's reset pull of a BCM line on every
// supported Pi: up on BCM 0–8, down on 9–27.
func DefaultPullHigh(bcm int) bool { return bcm >= 0 && bcm <= 8 }

func usesKind(cfg *config.Config, k sensor.Kind) bool {
	for _, s := range cfg.Sensors {
		if d, err := sensor.Lookup(s.Driver); err == nil && d.Kind == k {
			return true
		}
	}
	return false
}

func usesDriver(cfg *config.Config, name string) bool {
	for _, s := range cfg.Sensors {
		d, err := sensor.Lookup(s.Driver)
		if err == nil && (d.Name == name || d.AliasOf == name) {
			return true
		}
	}
	return false
}

// headerUARTs are the device names of the header UART (BCM 14/15).
var headerUARTs = []string{"/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0", "/dev/ttyAMA10"}

func usesHeaderUART(cfg *config.Config) bool {
	for _, d := range cfg.Serial {
		if slices.Contains(headerUARTs, d.Port) {
			return true
		}
	}
	return false
}

// pwmOverlay is the pwm-2chan overlay for the PWM outputs on the header:
// channel 0 on BCM 12 (func 4, alt0) or 18 (func 2, alt5), channel 1 on
// 13 (4) or 19 (2). The config loader has already refused PWM outputs on
// other pins and two outputs sharing a channel.
func pwmOverlay(cfg *config.Config) string {
	p0, f0, p1, f1, any := 18, 2, 19, 2, false
	for _, o := range cfg.Outputs {
		if o.Kind != config.KindPWM || o.Pin.Chip != "" {
			continue
		}
		switch o.Pin.BCM {
		case 12:
			p0, f0, any = 12, 4, true
		case 18:
			any = true
		case 13:
			p1, f1, any = 13, 4, true
		case 19:
			any = true
		}
	}
	if !any {
		return ""
	}
	return fmt.Sprintf("dtoverlay=pwm-2chan,pin=%d,func=%d,pin2=%d,func2=%d", p0, f0, p1, f1)
}

// Warning is one power-on hazard found by Warnings.
type Warning struct {
	Output string
	Text   string
}

func (w Warning) String() string { return w.Text }

// Warnings lists the outputs that the SoC's default pull energizes in the
// first second after power-on (before the firmware applies config.txt),
// each with a free header pin whose default pull would keep it off.
func Warnings(cfg *config.Config) []Warning {
	used := map[int]bool{}
	for bcm := range cfg.Assignments() {
		used[bcm] = true
	}
	var out []Warning
	for _, o := range cfg.Outputs {
		if o.Pin.Chip != "" || o.Pin.BCM < 0 || o.Pin.BCM > 27 {
			continue
		}
		if o.Boot == "on" && o.Kind == config.KindSwitch {
			continue // meant to be on
		}
		pullHigh := DefaultPullHigh(o.Pin.BCM)
		if pullHigh == o.ActiveLow { // the pull is at the inactive level
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "output %s (GPIO%d", o.ID, o.Pin.BCM)
		if o.Pin.Phys > 0 {
			fmt.Fprintf(&b, ", header pin %d", o.Pin.Phys)
		}
		pull, lvl := "down", "low"
		if pullHigh {
			pull, lvl = "up", "high"
		}
		fmt.Fprintf(&b, ") is ON for about a second after power-on: GPIO%d is pulled %s by default and %s is its active level", o.Pin.BCM, pull, lvl)
		b.WriteString(" (config.txt's gpio= line takes over after that; meshbox itself starts 10-30 s later)")
		if alt := freePin(used, !pullHigh); alt >= 0 {
			fmt.Fprintf(&b, "; GPIO%d would stay off", alt)
		} else {
			want := "up"
			if pullHigh {
				want = "down"
			}
			fmt.Fprintf(&b, "; no free pin pulled %s by default is left: add an external pull resistor to the inactive level", want)
		}
		out = append(out, Warning{Output: o.ID, Text: b.String()})
	}
	return out
}

// freePin is a general-purpose BCM line whose default pull is high (or
// low) and which no device, bus or output uses; -1 if none. BCM 0/1 (HAT
// EEPROM), 2/3 (I²C), 4 (1-Wire), 14/15 (UART) are avoided.
func freePin(used map[int]bool, high bool) int {
	reserved := map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true, 14: true, 15: true}
	for bcm := 0; bcm <= 27; bcm++ {
		if DefaultPullHigh(bcm) == high && !used[bcm] && !reserved[bcm] {
			return bcm
		}
	}
	return -1
}

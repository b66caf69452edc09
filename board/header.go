package board

import (
	"fmt"
	"sort"
	"strings"
)

// Supported model names (canonical).
const (
	PiZero   = "pi-zero"    // Pi Zero, Zero W, Zero WH (BCM2835)
	PiZero2W = "pi-zero-2w" // Pi Zero 2 W (RP3A0 / BCM2710A1)
	Pi3      = "pi3"        // Pi 3 B, 3 B+, 3 A+ (BCM2837)
	Pi4      = "pi4"        // Pi 4 B, Pi 400 (BCM2711)
	Pi5      = "pi5"        // Pi 5, Pi 500 (BCM2712 + RP1)

	// Default is the header assumed when the board cannot be detected.
	Default = Pi4
)

// Pin kinds.
const (
	KindGPIO   = "gpio"
	KindPower3 = "3v3"
	KindPower5 = "5v"
	KindGround = "gnd"
)

// Function groups a GPIO can belong to (Function.Group).
const (
	GroupI2C0  = "i2c0" // ID EEPROM bus (ID_SD/ID_SC), reserved for HAT detection
	GroupI2C1  = "i2c1" // the user I²C bus (/dev/i2c-1)
	GroupUART0 = "uart0"
	GroupSPI0  = "spi0"
	GroupSPI1  = "spi1"
	GroupPWM   = "pwm"
	GroupW1    = "w1" // 1-Wire (dtoverlay=w1-gpio default pin)
	GroupPCM   = "pcm"
	GroupGPCLK = "gpclk"
)

// Function is one alternate function of a GPIO.
type Function struct {
	Group  string // GroupI2C1, GroupUART0, ...
	Signal string // SDA, SCL, TXD, CE0, PWM0_CHAN2, DATA, ...
}

// String renders "I2C1 SDA", "PWM0_CHAN2", "1-WIRE DATA".
func (f Function) String() string {
	g := strings.ToUpper(f.Group)
	if f.Group == GroupW1 {
		g = "1-WIRE"
	}
	if strings.HasPrefix(f.Signal, g) {
		return f.Signal
	}
	return g + " " + f.Signal
}

// PWMChannel is a hardware PWM output as the Linux sysfs interface exposes
// it: /sys/class/pwm/pwmchip<Chip>/pwm<Channel>.
type PWMChannel struct {
	Chip    int
	Channel int
	Name    string // the SoC's name for it: PWM0, PWM1, PWM0_CHAN2
}

// Pin is one physical pin of the 40-pin header.
type Pin struct {
	Phys      int    // 1..40
	Kind      string // KindGPIO, KindPower3, KindPower5, KindGround
	BCM       int    // GPIO number; -1 for power and ground
	Name      string // "GPIO17", "3V3", "5V", "GND"
	Functions []Function
	PWM       *PWMChannel // hardware PWM channel, nil if none
}

// IsGPIO reports whether the pin is a GPIO line (not power or ground).
func (p Pin) IsGPIO() bool { return p.Kind == KindGPIO }

// Has reports whether the pin has a function in group.
func (p Pin) Has(group string) bool {
	for _, f := range p.Functions {
		if f.Group == group {
			return true
		}
	}
	return false
}

// Header is the 40-pin header of one model.
type Header struct {
	Model string // canonical model name
	Title string // "Raspberry Pi 4 Model B / Pi 400"
	SoC   string
	// ChipLabel is the label of the gpiochip that carries the header lines
	// (its number changes between kernels; the label does not).
	ChipLabel string
	// PWMNote says which overlay exposes the PWM channels in sysfs.
	PWMNote string
	Pins    []Pin // index i is physical pin i+1
}

// ByPhys returns physical pin n (1..40).
func (h Header) ByPhys(n int) (Pin, bool) {
	if n < 1 || n > len(h.Pins) {
		return Pin{}, false
	}
	return h.Pins[n-1], true
}

// ByBCM returns the header pin carrying GPIO bcm.
func (h Header) ByBCM(bcm int) (Pin, bool) {
	if bcm < 0 {
		return Pin{}, false
	}
	for _, p := range h.Pins {
		if p.BCM == bcm {
			return p, true
		}
	}
	return Pin{}, false
}

// PWM returns the hardware PWM channel GPIO bcm can drive.
func (h Header) PWM(bcm int) (PWMChannel, bool) {
	p, ok := h.ByBCM(bcm)
	if !ok || p.PWM == nil {
		return PWMChannel{}, false
	}
	return *p.PWM, true
}

// GroupPins returns the BCM numbers with a function in group, ascending.
func (h Header) GroupPins(group string) []int {
	var out []int
	for _, p := range h.Pins {
		if p.Has(group) {
			out = append(out, p.BCM)
		}
	}
	sort.Ints(out)
	return out
}

// Models returns the canonical model names, oldest first.
func Models() []string {
	return []string{PiZero, PiZero2W, Pi3, Pi4, Pi5}
}

// aliases maps accepted spellings to canonical names.
func aliases() map[string]string {
	return map[string]string{
		"pi-zero": PiZero, "pizero": PiZero, "zero": PiZero, "pi0": PiZero,
		"pi-zero-w": PiZero, "pizerow": PiZero, "zero-w": PiZero, "zerow": PiZero, "pi-zero-wh": PiZero, "pi0w": PiZero,
		// Pi 1 A+/B+ and Pi 2 B have the same 40-pin header (BCM2835/2836
		// GPIO numbering) as the Zero and the Pi 3; the compute modules
		// (on their IO boards) as the SoC they carry.
		"pi1": PiZero, "pi2": Pi3, "cm3": Pi3, "cm4": Pi4, "cm5": Pi5,
		"pi-zero-2w": PiZero2W, "pi-zero-2": PiZero2W, "pizero2w": PiZero2W, "zero2w": PiZero2W,
		"zero-2w": PiZero2W, "zero-2-w": PiZero2W, "pi-zero-2-w": PiZero2W, "pi02w": PiZero2W,
		"pi3": Pi3, "pi-3": Pi3, "rpi3": Pi3, "3": Pi3, "pi3b": Pi3, "pi3b+": Pi3, "pi3a+": Pi3, "pi3bplus": Pi3,
		"pi4": Pi4, "pi-4": Pi4, "rpi4": Pi4, "4": Pi4, "pi4b": Pi4, "pi400": Pi4, "pi-400": Pi4,
		"pi5": Pi5, "pi-5": Pi5, "rpi5": Pi5, "5": Pi5, "pi5b": Pi5, "pi500": Pi5, "pi-500": Pi5,
	}
}

// Canonical maps a model name or alias ("Pi4", "rpi5", "zero2w") to its
// canonical name.
func Canonical(name string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.ReplaceAll(n, "_", "-")
	n = strings.ReplaceAll(n, " ", "-")
	c, ok := aliases()[n]
	return c, ok
}

// Lookup returns the header of a model (canonical name or alias).
func Lookup(model string) (Header, error) {
	c, ok := Canonical(model)
	if !ok {
		return Header{}, fmt.Errorf("unknown board %q (known: %s)", model, strings.Join(Models(), ", "))
	}
	return header(c), nil
}

// MustLookup is Lookup for a model name known to be valid (a constant); it
// panics otherwise.
func MustLookup(model string) Header {
	h, err := Lookup(model)
	if err != nil {
		panic(err)
	}
	return h
}

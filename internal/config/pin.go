package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/meshbox/meshbox/board"
	"github.com/meshbox/meshbox/internal/gpio"
)

// BCMPin returns the header pin with GPIO number bcm, as if written "17".
func BCMPin(bcm int) Pin {
	return Pin{BCM: bcm, Line: bcm, Raw: strconv.Itoa(bcm)}
}

// ParsePin reads one of the YAML pin forms (see Pin). A physical pin
// ("phys:11") comes back with Phys set and BCM -1 until resolved against a
// board (ResolvePin).
func ParsePin(s string) (Pin, error) {
	raw := strings.TrimSpace(s)
	p := Pin{Raw: raw, BCM: -1}
	l := strings.ToLower(raw)
	if l == "" {
		return p, fmt.Errorf("pin is required")
	}
	num := func(t, what string) (int, error) {
		t = strings.TrimSpace(t)
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > 9999 || t == "" || t[0] == '+' {
			return 0, fmt.Errorf("pin %q: %s %q is not a number", raw, what, t)
		}
		return n, nil
	}
	switch {
	case strings.HasPrefix(l, "gpiochip") || strings.HasPrefix(l, "/dev/gpiochip"):
		i := strings.LastIndexByte(raw, ':')
		if i < 0 {
			return p, fmt.Errorf("pin %q: want CHIP:LINE, e.g. gpiochip0:17", raw)
		}
		n, err := num(raw[i+1:], "line")
		if err != nil {
			return p, err
		}
		p.Chip, p.Line = raw[:i], n
		if strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(p.Chip), "/dev/"), "gpiochip") == "" {
			return p, fmt.Errorf("pin %q: chip needs a number, e.g. gpiochip0", raw)
		}
		return p, nil
	case strings.HasPrefix(l, "phys:"), strings.HasPrefix(l, "pin"):
		t := strings.TrimPrefix(strings.TrimPrefix(l, "phys:"), "pin")
		t = strings.TrimPrefix(t, ":")
		n, err := num(t, "header pin")
		if err != nil {
			return p, err
		}
		p.Phys = n
		return p, nil
	case strings.HasPrefix(l, "gpio"), strings.HasPrefix(l, "bcm"):
		t := strings.TrimPrefix(strings.TrimPrefix(l, "gpio"), "bcm")
		n, err := num(t, "GPIO")
		if err != nil {
			return p, err
		}
		p.BCM, p.Line = n, n
		return p, nil
	}
	n, err := num(l, "GPIO")
	if strings.HasPrefix(raw, "<") {
		return p, fmt.Errorf("want a BCM number (17, \"GPIO17\"), a header pin (\"phys:11\") or \"gpiochip0:17\", got a %s", strings.ToLower(strings.Trim(raw, "<>")))
	}
	if err != nil {
		return p, fmt.Errorf("pin %q: want a BCM number (17, \"GPIO17\"), a header pin (\"phys:11\") or \"gpiochip0:17\"", raw)
	}
	p.BCM, p.Line = n, n
	return p, nil
}

// ResolvePin parses raw (see ParsePin) and resolves it against the header
// h: a header pin gets its BCM number and physical pin, and must be a GPIO.
// Chip lines are returned as parsed.
func ResolvePin(raw string, h board.Header) (Pin, error) {
	p, err := ParsePin(raw)
	if err != nil {
		return p, err
	}
	if p.Chip != "" {
		return p, nil
	}
	if p.Phys != 0 {
		hp, ok := h.ByPhys(p.Phys)
		if !ok {
			return p, fmt.Errorf("header pin %d does not exist (1..40)", p.Phys)
		}
		if !hp.IsGPIO() {
			return p, fmt.Errorf("header pin %d is %s, not a GPIO", p.Phys, powerName(hp))
		}
		p.BCM, p.Line = hp.BCM, hp.BCM
		return p, nil
	}
	hp, ok := h.ByBCM(p.BCM)
	if !ok {
		return p, fmt.Errorf("BCM %d is not on the 40-pin header (BCM 0..27; other lines as \"gpiochipN:LINE\")", p.BCM)
	}
	p.Phys = hp.Phys
	return p, nil
}

func powerName(p board.Pin) string {
	switch p.Kind {
	case board.KindGround:
		return "ground"
	case board.KindPower3:
		return "3.3 V power"
	case board.KindPower5:
		return "5 V power"
	}
	return p.Name
}

// String is the resolved pin as shown by meshbox check: "BCM17 (pin 11)",
// "gpiochip0:5".
func (p Pin) String() string {
	if p.Chip != "" {
		return fmt.Sprintf("%s:%d", p.Chip, p.Line)
	}
	if p.BCM < 0 {
		return p.Raw
	}
	if p.Phys > 0 {
		return fmt.Sprintf("BCM%d (pin %d)", p.BCM, p.Phys)
	}
	return fmt.Sprintf("BCM%d", p.BCM)
}

// GPIOLine is the line to open on a gpio.Host.
func (p Pin) GPIOLine() gpio.Line {
	if p.Chip != "" {
		return gpio.Line{Chip: p.Chip, Offset: p.Line}
	}
	return gpio.Line{Offset: p.BCM}
}

// UnmarshalYAML keeps the written form; it never fails, so that a bad pin is
// reported by validation with its field path and line.
func (p *Pin) UnmarshalYAML(node ast.Node) error {
	raw := ""
	switch n := node.(type) {
	case *ast.IntegerNode, *ast.StringNode, *ast.LiteralNode, *ast.FloatNode:
		raw = fmt.Sprint(n.(ast.ScalarNode).GetValue())
	case *ast.NullNode:
	default:
		raw = "<" + node.Type().String() + ">"
	}
	parsed, err := ParsePin(raw)
	if err != nil {
		*p = Pin{Raw: parsed.Raw, BCM: -1}
		return nil
	}
	*p = parsed
	return nil
}

// MarshalYAML writes the pin back in its written form (a number for plain
// BCM pins).
func (p Pin) MarshalYAML() (any, error) {
	raw := p.Raw
	if raw == "" {
		raw = p.String()
	}
	if n, err := strconv.Atoi(raw); err == nil {
		return n, nil
	}
	return raw, nil
}

// PWMRef is the PWM channel a pwm output drives.
func (o Output) PWMRef() gpio.PWMRef {
	return gpio.PWMRef{Chip: o.PWMChip, Channel: o.PWMChannel, Pin: o.Pin.BCM}
}

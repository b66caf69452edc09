package board

import (
	"fmt"
	"io"
	"strings"
)

// Label describes a pin's functions for a table: "I2C1 SDA, PWM0".
func (p Pin) Label() string {
	s := make([]string, 0, len(p.Functions))
	for _, f := range p.Functions {
		s = append(s, f.String())
	}
	return strings.Join(s, ", ")
}

// Render writes the header as a two-column text table, odd pins on the left
// and even pins on the right, as seen from above with the header at the
// board's edge. assigned, if not nil, maps BCM numbers to what uses them
// (meshbox's wiring) and is printed on the outside of each column.
func (h Header) Render(w io.Writer, assigned map[int]string) error {
	type cell struct{ use, fn, name, phys string }
	cellOf := func(p Pin) cell {
		c := cell{fn: p.Label(), name: p.Name, phys: fmt.Sprint(p.Phys)}
		if p.PWM != nil {
			c.fn = strings.Replace(c.fn, p.PWM.Name,
				fmt.Sprintf("%s (pwmchip%d/%d)", p.PWM.Name, p.PWM.Chip, p.PWM.Channel), 1)
		}
		if p.IsGPIO() && assigned != nil {
			c.use = assigned[p.BCM]
		}
		return c
	}
	var left, right []cell
	var wUse, wFnL, wFnR, wName int
	for i := 0; i+1 < len(h.Pins); i += 2 {
		l, r := cellOf(h.Pins[i]), cellOf(h.Pins[i+1])
		left, right = append(left, l), append(right, r)
		wUse = max(wUse, len(l.use), len(r.use))
		wFnL, wFnR = max(wFnL, len(l.fn)), max(wFnR, len(r.fn))
		wName = max(wName, len(l.name), len(r.name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, %s, gpiochip %q)\n", h.Title, h.Model, h.SoC, h.ChipLabel)
	fmt.Fprintf(&b, "PWM: %s\n\n", h.PWMNote)
	for i := range left {
		l, r := left[i], right[i]
		line := ""
		if assigned != nil {
			line += fmt.Sprintf("%*s  ", wUse, l.use)
		}
		line += fmt.Sprintf("%*s  %*s  %2s | %-2s  %-*s  %-*s", wFnL, l.fn, wName, l.name, l.phys, r.phys, wName, r.name, wFnR, r.fn)
		if assigned != nil {
			line += "  " + r.use
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

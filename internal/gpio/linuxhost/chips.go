package linuxhost

import (
	"fmt"
	"strings"
)

// ChipInfo describes one GPIO chip.
type ChipInfo struct {
	Name  string // "gpiochip0"
	Path  string // "/dev/gpiochip0"
	Label string // "pinctrl-bcm2711"
	Lines int
}

// headerLabels are the labels of the chip carrying the 40-pin header, in
// order of preference: Pi 5 (RP1), Pi 4, Pi Zero/1/2/3.
func headerLabels() []string {
	return []string{"pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835"}
}

// HeaderChip picks the chip of the 40-pin header: the one labelled with a
// Raspberry Pi pinctrl, else gpiochip0, else the first chip.
func HeaderChip(chips []ChipInfo) (ChipInfo, error) {
	if len(chips) == 0 {
		return ChipInfo{}, fmt.Errorf("no GPIO chip found (/dev/gpiochip*)")
	}
	for _, l := range headerLabels() {
		for _, c := range chips {
			if c.Label == l {
				return c, nil
			}
		}
	}
	for _, c := range chips {
		if c.Name == "gpiochip0" {
			return c, nil
		}
	}
	return chips[0], nil
}

// FindChip resolves a chip reference ("" = header chip, a name
// "gpiochip4", a path "/dev/gpiochip4", or a label "pinctrl-rp1").
func FindChip(chips []ChipInfo, ref string) (ChipInfo, error) {
	if ref == "" {
		return HeaderChip(chips)
	}
	for _, c := range chips {
		if c.Name == ref || c.Path == ref || c.Label == ref || "/dev/"+c.Name == ref {
			return c, nil
		}
	}
	var known []string
	for _, c := range chips {
		known = append(known, fmt.Sprintf("%s (%s, %d lines)", c.Name, c.Label, c.Lines))
	}
	return ChipInfo{}, fmt.Errorf("no GPIO chip %q (have: %s)", ref, strings.Join(known, ", "))
}

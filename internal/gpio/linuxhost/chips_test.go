package linuxhost

import "testing"

func TestHeaderChip(t *testing.T) {
	for _, c := range []struct {
		name  string
		chips []ChipInfo
		want  string
	}{
		{"pi5 (rp1 on gpiochip4)", []ChipInfo{
			{Name: "gpiochip0", Label: "gpio-brcmstb@107d508500", Lines: 32},
			{Name: "gpiochip1", Label: "gpio-brcmstb@107d508520", Lines: 4},
			{Name: "gpiochip4", Label: "pinctrl-rp1", Lines: 54},
			{Name: "gpiochip10", Label: "pinctrl-bcm2712", Lines: 32},
		}, "gpiochip4"},
		{"pi4", []ChipInfo{
			{Name: "gpiochip0", Label: "pinctrl-bcm2711", Lines: 58},
			{Name: "gpiochip1", Label: "raspberrypi-exp-gpio", Lines: 8},
		}, "gpiochip0"},
		{"pi zero/3, header chip not first", []ChipInfo{
			{Name: "gpiochip1", Label: "raspberrypi-exp-gpio", Lines: 8},
			{Name: "gpiochip0", Label: "pinctrl-bcm2835", Lines: 54},
		}, "gpiochip0"},
		{"emulated virt board", []ChipInfo{
			{Name: "gpiochip1", Label: "gpio-sim.0-node0", Lines: 8},
			{Name: "gpiochip0", Label: "9030000.pl061", Lines: 8},
		}, "gpiochip0"},
		{"only some chip", []ChipInfo{{Name: "gpiochip3", Label: "x", Lines: 8}}, "gpiochip3"},
	} {
		got, err := HeaderChip(c.chips)
		if err != nil || got.Name != c.want {
			t.Errorf("%s: %v %v, want %s", c.name, got.Name, err, c.want)
		}
	}
	if _, err := HeaderChip(nil); err == nil {
		t.Error("no chips: no error")
	}
}

func TestFindChip(t *testing.T) {
	chips := []ChipInfo{
		{Name: "gpiochip0", Path: "/dev/gpiochip0", Label: "pinctrl-bcm2711", Lines: 58},
		{Name: "gpiochip1", Path: "/dev/gpiochip1", Label: "raspberrypi-exp-gpio", Lines: 8},
	}
	for ref, want := range map[string]string{
		"": "gpiochip0", "gpiochip1": "gpiochip1", "/dev/gpiochip1": "gpiochip1", "raspberrypi-exp-gpio": "gpiochip1",
	} {
		if got, err := FindChip(chips, ref); err != nil || got.Name != want {
			t.Errorf("%q -> %s %v, want %s", ref, got.Name, err, want)
		}
	}
	if _, err := FindChip(chips, "gpiochip7"); err == nil {
		t.Error("gpiochip7 found")
	}
}

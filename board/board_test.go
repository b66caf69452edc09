package board

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestGoldenHeaders(t *testing.T) {
	for _, m := range Models() {
		t.Run(m, func(t *testing.T) {
			h, err := Lookup(m)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := h.Render(&b, nil); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", m+".golden"), b.Bytes())
		})
	}
}

func TestRenderAssigned(t *testing.T) {
	var b bytes.Buffer
	if err := MustLookup(Pi4).Render(&b, map[int]string{17: "output lamp", 2: "i2c climate"}); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "pi4-assigned.golden"), b.Bytes())
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./board -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./board -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestHeaderInvariants(t *testing.T) {
	for _, m := range Models() {
		h := MustLookup(m)
		if len(h.Pins) != 40 {
			t.Fatalf("%s: %d pins", m, len(h.Pins))
		}
		seen := map[int]bool{}
		gpios := 0
		for i, p := range h.Pins {
			if p.Phys != i+1 {
				t.Errorf("%s: pin %d has Phys %d", m, i+1, p.Phys)
			}
			if p.IsGPIO() {
				gpios++
				if seen[p.BCM] {
					t.Errorf("%s: BCM %d twice", m, p.BCM)
				}
				seen[p.BCM] = true
				q, ok := h.ByBCM(p.BCM)
				if !ok || q.Phys != p.Phys {
					t.Errorf("%s: ByBCM(%d) = %v", m, p.BCM, q.Phys)
				}
			} else if p.BCM != -1 {
				t.Errorf("%s: power pin %d has BCM %d", m, p.Phys, p.BCM)
			}
		}
		if gpios != 28 {
			t.Errorf("%s: %d GPIOs, want 28 (BCM0..27)", m, gpios)
		}
		for bcm := 0; bcm <= 27; bcm++ {
			if !seen[bcm] {
				t.Errorf("%s: BCM %d missing", m, bcm)
			}
		}
	}
}

func TestKnownPins(t *testing.T) {
	h := MustLookup(Pi4)
	cases := []struct {
		phys int
		bcm  int
		kind string
	}{
		{1, -1, KindPower3}, {2, -1, KindPower5}, {3, 2, KindGPIO}, {5, 3, KindGPIO}, {6, -1, KindGround},
		{7, 4, KindGPIO}, {8, 14, KindGPIO}, {10, 15, KindGPIO}, {11, 17, KindGPIO}, {12, 18, KindGPIO},
		{27, 0, KindGPIO}, {28, 1, KindGPIO}, {32, 12, KindGPIO}, {33, 13, KindGPIO}, {35, 19, KindGPIO},
		{39, -1, KindGround}, {40, 21, KindGPIO},
	}
	for _, c := range cases {
		p, ok := h.ByPhys(c.phys)
		if !ok || p.BCM != c.bcm || p.Kind != c.kind {
			t.Errorf("phys %d = %+v, want BCM %d %s", c.phys, p, c.bcm, c.kind)
		}
	}
	if _, ok := h.ByPhys(0); ok {
		t.Error("phys 0 exists")
	}
	if _, ok := h.ByPhys(41); ok {
		t.Error("phys 41 exists")
	}
	if _, ok := h.ByBCM(28); ok {
		t.Error("BCM 28 on header")
	}
	for group, want := range map[string][]int{
		GroupI2C1: {2, 3}, GroupI2C0: {0, 1}, GroupUART0: {14, 15}, GroupW1: {4},
		GroupSPI0: {7, 8, 9, 10, 11}, GroupPWM: {12, 13, 18, 19}, GroupPCM: {18, 19, 20, 21},
	} {
		got := h.GroupPins(group)
		if len(got) != len(want) {
			t.Errorf("%s = %v, want %v", group, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s = %v, want %v", group, got, want)
			}
		}
	}
}

func TestPWMChannels(t *testing.T) {
	cases := []struct {
		model         string
		bcm           int
		chip, channel int
	}{
		{Pi4, 18, 0, 0}, {Pi4, 12, 0, 0}, {Pi4, 13, 0, 1}, {Pi4, 19, 0, 1},
		{PiZero, 18, 0, 0}, {Pi3, 19, 0, 1}, {PiZero2W, 13, 0, 1},
		{Pi5, 12, 2, 0}, {Pi5, 13, 2, 1}, {Pi5, 18, 2, 2}, {Pi5, 19, 2, 3},
	}
	for _, c := range cases {
		p, ok := MustLookup(c.model).PWM(c.bcm)
		if !ok || p.Chip != c.chip || p.Channel != c.channel {
			t.Errorf("%s BCM %d: %+v %v, want chip %d channel %d", c.model, c.bcm, p, ok, c.chip, c.channel)
		}
	}
	if _, ok := MustLookup(Pi5).PWM(17); ok {
		t.Error("BCM 17 has PWM")
	}
}

func TestFreshValues(t *testing.T) {
	a := MustLookup(Pi4)
	a.Pins[10].Name = "mutated"
	a.Pins[11].PWM.Chip = 99
	b := MustLookup(Pi4)
	if b.Pins[10].Name != "GPIO17" || b.Pins[11].PWM.Chip != 0 {
		t.Fatal("Lookup shares state between calls")
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"pi4": Pi4, "Pi4": Pi4, " RPI5 ": Pi5, "pi400": Pi4, "zero2w": PiZero2W, "pi_zero_2w": PiZero2W,
		"pi-zero-w": PiZero, "3": Pi3, "pi500": Pi5, "pi1": PiZero, "pi2": Pi3, "cm4": Pi4, "cm5": Pi5,
	} {
		got, ok := Canonical(in)
		if !ok || got != want {
			t.Errorf("Canonical(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "pi9", "auto", "beaglebone"} {
		if _, err := Lookup(in); err == nil {
			t.Errorf("Lookup(%q) succeeded", in)
		}
	}
}

package board

import (
	"errors"
	"os"
	"testing"
)

func TestParseRevision(t *testing.T) {
	cases := []struct {
		code, model, typ string
		mem              int
	}{
		{"a02082", Pi3, "3B", 1024},
		{"a22082", Pi3, "3B", 1024},
		{"a020d3", Pi3, "3B+", 1024},
		{"9020e0", Pi3, "3A+", 512},
		{"c03111", Pi4, "4B", 4096},
		{"b03114", Pi4, "4B", 2048},
		{"d03114", Pi4, "4B", 8192},
		{"c03130", Pi4, "400", 4096},
		{"d04170", Pi5, "5", 8192},
		{"c04170", Pi5, "5", 4096},
		{"9000c1", PiZero, "Zero W", 512},
		{"900093", PiZero, "Zero", 512},
		{"902120", PiZero2W, "Zero 2 W", 512},
		{"0xc03111", Pi4, "4B", 4096},
	}
	for _, c := range cases {
		r, err := ParseRevision(c.code)
		if err != nil {
			t.Errorf("%s: %v", c.code, err)
			continue
		}
		if r.Model != c.model || r.TypeName != c.typ || r.MemoryMB != c.mem {
			t.Errorf("%s = %+v, want %s %s %dMB", c.code, r, c.model, c.typ, c.mem)
		}
	}
	for _, code := range []string{"a01041" /* 2B */, "a020a0" /* CM3 */, "000e" /* old Pi 1 */, "zz", "", "a03140" /* CM4 */} {
		if _, err := ParseRevision(code); err == nil {
			t.Errorf("%s: accepted", code)
		}
	}
	if _, err := ParseRevision("000e"); !errors.Is(err, ErrUnknownBoard) {
		t.Errorf("old-style: %v", err)
	}
}

func TestDetectModelText(t *testing.T) {
	cases := map[string]string{
		"Raspberry Pi 4 Model B Rev 1.4\x00":      Pi4,
		"Raspberry Pi 5 Model B Rev 1.0\x00":      Pi5,
		"Raspberry Pi 3 Model B Plus Rev 1.3\x00": Pi3,
		"Raspberry Pi 3 Model B Rev 1.2":          Pi3,
		"Raspberry Pi Zero W Rev 1.1\x00":         PiZero,
		"Raspberry Pi Zero 2 W Rev 1.0\x00":       PiZero2W,
		"Raspberry Pi 400 Rev 1.0\x00":            Pi4,
		"Raspberry Pi 500 Rev 1.0\x00":            Pi5,
	}
	for in, want := range cases {
		got, err := DetectModel([]byte(in))
		if err != nil || got != want {
			t.Errorf("DetectModel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "QEMU Virtual Machine", "Raspberry Pi Compute Module 4 Rev 1.0", "Raspberry Pi 2 Model B Rev 1.1"} {
		if _, err := DetectModel([]byte(in)); !errors.Is(err, ErrUnknownBoard) {
			t.Errorf("DetectModel(%q): %v", in, err)
		}
	}
}

func TestDetectCPUInfo(t *testing.T) {
	cpuinfo := []byte("processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd\n\nHardware\t: BCM2835\nRevision\t: d04170\nSerial\t\t: 1234\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n")
	r, err := DetectCPUInfo(cpuinfo)
	if err != nil || r.Model != Pi5 || r.MemoryMB != 8192 || r.Processor != "BCM2712" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := DetectCPUInfo([]byte("processor : 0\nvendor_id : GenuineIntel\n")); !errors.Is(err, ErrUnknownBoard) {
		t.Fatalf("x86 cpuinfo: %v", err)
	}
	m, err := Detect([]byte("Generic board"), []byte("Revision\t: 902120\n"))
	if err != nil || m != PiZero2W {
		t.Fatalf("Detect fallback = %q %v", m, err)
	}
	if _, err := Detect(nil, nil); !errors.Is(err, ErrUnknownBoard) {
		t.Fatalf("Detect(nil,nil) = %v", err)
	}
	m, err = DetectFS(func(p string) ([]byte, error) {
		if p == "/proc/device-tree/model" {
			return []byte("Raspberry Pi 4 Model B Rev 1.5\x00"), nil
		}
		return nil, os.ErrNotExist
	})
	if err != nil || m != Pi4 {
		t.Fatalf("DetectFS = %q %v", m, err)
	}
}

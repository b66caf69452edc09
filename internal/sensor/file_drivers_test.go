package sensor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"periph.io/x/conn/v3/i2c"

	"github.com/meshbox/meshbox/internal/gpio"
)

// fileHost serves files from a map; everything else is unsupported.
type fileHost struct {
	files map[string]string
	buses map[string]i2c.BusCloser
}

func (h *fileHost) Output(gpio.Line, bool) (gpio.Output, error)    { return nil, gpio.ErrUnsupported }
func (h *fileHost) Input(gpio.Line, gpio.Pull) (gpio.Input, error) { return nil, gpio.ErrUnsupported }
func (h *fileHost) PWM(gpio.PWMRef) (gpio.PWM, error)              { return nil, gpio.ErrUnsupported }
func (h *fileHost) Serial(string, int) (gpio.SerialPort, error)    { return nil, gpio.ErrUnsupported }
func (h *fileHost) String() string                                 { return "filehost" }
func (h *fileHost) Close() error                                   { return nil }
func (h *fileHost) I2C(bus string) (i2c.BusCloser, error) {
	if b, ok := h.buses[bus]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("bus %q: %w", bus, fs.ErrNotExist)
}
func (h *fileHost) ReadFile(p string) ([]byte, error) {
	if s, ok := h.files[p]; ok {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
}

const w1Good = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"

func TestParseW1Slave(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     float64
		err      error
	}{
		{"good", w1Good, 23.125, nil},
		{"negative", "5e ff 4b 46 7f ff 02 10 b6 : crc=b6 YES\n5e ff 4b 46 7f ff 02 10 b6 t=-10125\n", -10.125, nil},
		{"kernel NO", "72 01 4b 46 7f ff 0e 10 57 : crc=57 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n", 0, ErrCRC},
		{"crc mismatch", "72 01 4b 46 7f ff 0e 10 58 : crc=58 YES\n72 01 4b 46 7f ff 0e 10 58 t=23125\n", 0, ErrCRC},
		{"power-on 85", "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n", 0, ErrBadData},
		{"all zero", "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n", 0, ErrBadData},
		{"one line", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n", 0, ErrBadData},
		{"no t", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57\n", 0, ErrBadData},
		{"garbage", "hello\nworld\n", 0, ErrBadData},
		{"empty", "", 0, ErrBadData},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseW1Slave([]byte(c.in))
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("= %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestCRC8Dallas(t *testing.T) {
	// A scratchpad as printed by the kernel; followed by its CRC it checks to 0.
	sp := []byte{0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10}
	if c := CRC8Dallas(sp); c != 0x57 {
		t.Fatalf("crc = 0x%02x, want 0x57", c)
	}
	if CRC8Dallas(append(sp, 0x57)) != 0 {
		t.Fatal("scratchpad+crc does not check to 0")
	}
}

func TestW1SlavePath(t *testing.T) {
	for in, want := range map[string]string{
		"28-000005e2fdc3":                              "/sys/bus/w1/devices/28-000005e2fdc3/w1_slave",
		"/sys/bus/w1/devices/28-000005e2fdc3":          "/sys/bus/w1/devices/28-000005e2fdc3/w1_slave",
		"/sys/bus/w1/devices/28-000005e2fdc3/w1_slave": "/sys/bus/w1/devices/28-000005e2fdc3/w1_slave",
	} {
		if got, err := W1SlavePath(in); err != nil || got != want {
			t.Errorf("%q -> %q, %v", in, got, err)
		}
	}
	if _, err := W1SlavePath(" "); err == nil {
		t.Error("empty path accepted")
	}
}

func TestFileSensorsViaOpen(t *testing.T) {
	h := &fileHost{files: map[string]string{
		"/sys/bus/w1/devices/28-01/w1_slave":    w1Good,
		"/sys/class/thermal/thermal_zone0/temp": "48312\n",
		"/tmp/bad":                              "hot\n",
	}}
	ctx := context.Background()
	s, err := Open("DS18B20", h, "", 0, "28-01")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.Read(ctx); err != nil || m["temperature"] != 23.125 {
		t.Fatalf("ds18b20: %v %v", m, err)
	}
	s, _ = Open("cputemp", h, "", 0, "")
	if m, err := s.Read(ctx); err != nil || m["temperature"] != 48.312 {
		t.Fatalf("cputemp: %v %v", m, err)
	}
	s, _ = Open("cputemp", h, "", 0, "/tmp/bad")
	if _, err := s.Read(ctx); !errors.Is(err, ErrBadData) {
		t.Fatalf("bad file: %v", err)
	}
	s, _ = Open("ds18b20", h, "", 0, "28-02")
	if _, err := s.Read(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing device: %v", err)
	}
}

func TestOpenValidation(t *testing.T) {
	h := &fileHost{}
	if _, err := Open("bme680", h, "1", 0, ""); !errors.Is(err, ErrUnknownDriver) {
		t.Errorf("unknown driver: %v", err)
	}
	if _, err := Open("bme280", h, "1", 0x40, ""); !errors.Is(err, ErrBadAddress) {
		t.Errorf("bad address: %v", err)
	}
	if _, err := Open("bme280", h, "7", 0, ""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing bus: %v", err)
	}
	defaults := map[string]uint16{"bme280": 0x76, "sht3x": 0x44, "bh1750": 0x23, "ads1115": 0x48, "ina219": 0x40, "tmp102": 0x48, "lm75": 0x48, "tmp105": 0x48}
	for _, d := range Drivers() {
		if d.Kind == KindI2C {
			if want, ok := defaults[d.Name]; !ok || d.DefaultAddr != want || !d.ValidAddr(0) || !d.ValidAddr(want) {
				t.Errorf("%s default 0x%02x, want 0x%02x", d.Name, d.DefaultAddr, want)
			}
		}
		if len(d.Fields) == 0 {
			t.Errorf("%s has no fields", d.Name)
		}
	}
	if d, err := Lookup("LM75"); err != nil || d.AliasOf != "tmp102" || !d.ValidAddr(0x4F) {
		t.Errorf("lm75: %+v %v", d, err)
	}
	if d, _ := Lookup("tmp102"); d.ValidAddr(0x4F) {
		t.Error("tmp102 accepts 0x4F")
	}
	// Opening a driver on a bus the host provides closes the bus with the sensor.
	p := play(t)
	h.buses = map[string]i2c.BusCloser{"1": p}
	s, err := Open("tmp105", h, "", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSimSensor(t *testing.T) {
	s, err := Open("sim", nil, "", 0, "room")
	if err != nil {
		t.Fatal(err)
	}
	sim := s.(*Sim)
	m1, _ := s.Read(context.Background())
	sim.Env().Step(100)
	m2, _ := s.Read(context.Background())
	for _, f := range s.Fields() {
		if v := m2[f.Name]; v < f.Min || v > f.Max {
			t.Errorf("%s = %v outside [%v,%v]", f.Name, v, f.Min, f.Max)
		}
	}
	if m1["temperature"] == m2["temperature"] && m1["lux"] == m2["lux"] {
		t.Error("values did not drift")
	}
}

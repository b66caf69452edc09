package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden and the .want sections of testdata/errors.txtar")

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
		t.Fatalf("%v (go test ./internal/config -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (-update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestDemoIsValidAndFresh(t *testing.T) {
	a := Demo()
	if a.Name != "meshbox" || a.Channel != "home" || a.Path != "" {
		t.Fatalf("demo identity %q %q %q", a.Name, a.Channel, a.Path)
	}
	ids := map[string]string{}
	for _, o := range a.Outputs {
		ids[o.ID] = o.Kind
	}
	for id, kind := range map[string]string{"lamp": KindSwitch, "fan": KindSwitch, "pump": KindSwitch,
		"valve_open": KindSwitch, "valve_close": KindSwitch, "door": KindMomentary, "dimmer": KindPWM} {
		if ids[id] != kind {
			t.Errorf("demo output %s kind %q, want %s", id, ids[id], kind)
		}
	}
	if len(a.Sensors) < 2 || len(a.Inputs) != 1 || len(a.Interlocks) != 1 {
		t.Fatalf("demo: %d sensors, %d inputs, %d interlocks", len(a.Sensors), len(a.Inputs), len(a.Interlocks))
	}
	for _, s := range a.Sensors {
		if s.Interval > 2*time.Second {
			t.Errorf("sensor %s interval %s > 2s", s.ID, s.Interval)
		}
	}
	// Each call is a fresh value.
	a.Outputs[0].ID = "changed"
	a.Sensors[0].Fields = append(a.Sensors[0].Fields, Field{Name: "x"})
	b := Demo()
	if b.Outputs[0].ID != "lamp" || len(b.Sensors[0].Fields) != 0 {
		t.Fatal("Demo shares state between calls")
	}
	// The demo passes the same validation as a file.
	if err := finish(demoRaw(), "demo", newPositions(), "pi5"); err != nil {
		t.Fatalf("demo on pi5: %v", err)
	}
}

func TestDemoYAMLEqualsDemo(t *testing.T) {
	got, err := Load(filepath.Join("..", "..", "examples", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got.Path = ""
	if want := Demo(); !reflect.DeepEqual(got, want) {
		t.Fatalf("examples/demo.yaml != Demo()\n got: %+v\nwant: %+v", got, want)
	}
}

// Marshalling a loaded config and parsing it again gives the same config.
func TestMarshalRoundTrip(t *testing.T) {
	cfgs := []*Config{Demo()}
	for _, n := range exampleNames(t) {
		c, err := Load(filepath.Join("..", "..", "examples", n+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, c)
	}
	for _, c := range cfgs {
		data, err := yaml.MarshalWithOptions(c, yaml.OmitEmpty())
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseFor(c.Path, data, c.BoardModel)
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.Path, err, data)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("%s: round trip differs\n got: %+v\nwant: %+v\n%s", c.Path, back, c, data)
		}
	}
}

func exampleNames(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	if err != nil || len(m) < 4 {
		t.Fatalf("examples: %v %v", m, err)
	}
	var n []string
	for _, p := range m {
		n = append(n, strings.TrimSuffix(filepath.Base(p), ".yaml"))
	}
	return n
}

func TestExamplesGolden(t *testing.T) {
	for _, n := range exampleNames(t) {
		t.Run(n, func(t *testing.T) {
			c, err := Load(filepath.Join("..", "..", "examples", n+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			c.Path = "examples/" + n + ".yaml"
			var b bytes.Buffer
			if err := c.WriteWiring(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", n+".golden"), b.Bytes())
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("min.yaml", []byte(`
outputs:
  - {id: a, pin: 17}
  - {id: p, pin: 19, kind: pwm}
  - {id: m, pin: 20, kind: momentary}
inputs:
  - {id: b, pin: 21}
sensors:
  - {id: s, driver: sht3x}
  - {id: t, driver: lm75}
serial:
  - {id: u, port: /dev/ttyUSB0, fields: [{name: temp}]}
interlocks:
  - outputs: [a, a2]
`))
	if err == nil || !strings.Contains(err.Error(), `min.yaml:14: interlocks[0].outputs[1]: unknown output "a2"`) {
		t.Fatalf("want interlock error, got %v", err)
	}
	c, err = Parse("min.yaml", []byte("outputs:\n  - {id: a, pin: 17}\n  - {id: p, pin: 19, kind: pwm}\n  - {id: m, pin: 20, kind: momentary}\ninputs:\n  - {id: b, pin: 21}\nsensors:\n  - {id: s, driver: sht3x}\n  - {id: t, driver: lm75}\nserial:\n  - {id: u, port: /dev/ttyUSB0, fields: [{name: temp}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("name", c.Name, "meshbox")
	check("channel", c.Channel, "home")
	check("listen", c.Listen, ":8765")
	check("state_dir", c.StateDir, "/var/lib/meshbox")
	check("board", c.Board, "auto")
	check("model", c.BoardModel, "pi4")
	check("actuation_rate", c.ActuationRate, 5.0)
	check("pairing.window", c.Pairing.Window, 10*time.Minute)
	check("relay.rate_limit", c.Relay.RateLimit, 50)
	check("relay.max_size", c.Relay.MaxSize, int64(262144))
	check("relay.auth_timeout", c.Relay.AuthTimeout, 5*time.Second)
	a := c.Outputs[0]
	check("label", a.Label, "a")
	check("kind", a.Kind, KindSwitch)
	check("boot", a.Boot, "off")
	check("exit", a.Exit, "off")
	check("pulse", a.Pulse, 500*time.Millisecond)
	check("pin", a.Pin, Pin{BCM: 17, Line: 17, Raw: "17", Phys: 11})
	p := c.Outputs[1]
	check("frequency", p.Frequency, 1000.0)
	check("pwm", [2]int{p.PWMChip, p.PWMChannel}, [2]int{0, 1})
	check("pwm pulse", p.Pulse, time.Duration(0))
	check("momentary pulse", c.Outputs[2].Pulse, 500*time.Millisecond)
	in := c.Inputs[0]
	check("pull", in.Pull, "up")
	check("debounce", in.Debounce, 20*time.Millisecond)
	check("broadcast", in.Broadcast, "state")
	s := c.Sensors[0]
	check("interval", s.Interval, 2*time.Second)
	check("bus", s.Bus, "1")
	check("address", s.Address, uint16(0x44))
	check("alias driver", c.Sensors[1].Driver, "lm75")
	check("alias address", c.Sensors[1].Address, uint16(0x48))
	u := c.Serial[0]
	check("baud", u.Baud, 115200)
	check("framing", u.Framing, FramingKV)
	check("field defaults", u.Fields[0], Field{Name: "temp", Source: "temp", Label: "temp", Scale: 1})

	// The detected board picks the PWM channel for board: auto, unless written.
	c, err = ParseFor("pi5.yaml", []byte("outputs:\n  - {id: p, pin: 18, kind: pwm}\n  - {id: q, pin: 19, kind: pwm, pwm_chip: 0, pwm_channel: 1}\n"), "pi5")
	if err != nil {
		t.Fatal(err)
	}
	check("pi5 model", c.BoardModel, "pi5")
	check("pi5 pwm", [2]int{c.Outputs[0].PWMChip, c.Outputs[0].PWMChannel}, [2]int{2, 2})
	check("explicit pwm", [2]int{c.Outputs[1].PWMChip, c.Outputs[1].PWMChannel}, [2]int{0, 1})
	check("PWMRef", c.Outputs[0].PWMRef().Pin, 18)
}

func TestPinForms(t *testing.T) {
	h, _ := lookupHeader("pi4")
	cases := []struct {
		in   string
		want Pin
		err  string
	}{
		{"17", Pin{BCM: 17, Line: 17, Phys: 11}, ""},
		{"GPIO17", Pin{BCM: 17, Line: 17, Phys: 11}, ""},
		{"gpio4", Pin{BCM: 4, Line: 4, Phys: 7}, ""},
		{"BCM27", Pin{BCM: 27, Line: 27, Phys: 13}, ""},
		{"phys:11", Pin{BCM: 17, Line: 17, Phys: 11}, ""},
		{"pin11", Pin{BCM: 17, Line: 17, Phys: 11}, ""},
		{"PIN40", Pin{BCM: 21, Line: 21, Phys: 40}, ""},
		{"gpiochip0:17", Pin{BCM: -1, Chip: "gpiochip0", Line: 17}, ""},
		{"/dev/gpiochip4:5", Pin{BCM: -1, Chip: "/dev/gpiochip4", Line: 5}, ""},
		{"phys:1", Pin{}, "header pin 1 is 3.3 V power, not a GPIO"},
		{"pin6", Pin{}, "header pin 6 is ground, not a GPIO"},
		{"pin2", Pin{}, "header pin 2 is 5 V power, not a GPIO"},
		{"phys:41", Pin{}, "header pin 41 does not exist (1..40)"},
		{"28", Pin{}, "BCM 28 is not on the 40-pin header"},
		{"GPIOx", Pin{}, `pin "GPIOx": GPIO "x" is not a number`},
		{"gpiochip0", Pin{}, "want CHIP:LINE"},
		{"gpiochip:3", Pin{}, "chip needs a number"},
		{"-1", Pin{}, "want a BCM number"},
		{"", Pin{}, "pin is required"},
		{"+5", Pin{}, "want a BCM number"},
	}
	for _, c := range cases {
		got, err := ResolvePin(c.in, h)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ResolvePin(%q) err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		c.want.Raw = c.in
		if err != nil || got != c.want {
			t.Errorf("ResolvePin(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	if l := BCMPin(22).GPIOLine(); l.Chip != "" || l.Offset != 22 {
		t.Errorf("GPIOLine = %+v", l)
	}
	if s := (Pin{BCM: 17, Line: 17, Phys: 11}).String(); s != "BCM17 (pin 11)" {
		t.Errorf("String = %q", s)
	}
}

func TestErrorTypes(t *testing.T) {
	_, err := Parse("x.yaml", []byte("outputs:\n  - id: a\n    pin: 17\n  - id: b\n    pin: 17\n"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("want ErrorList of 1, got %#v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 5 || e.Field != "outputs[1].pin" || e.File != "x.yaml" {
		t.Fatalf("got %+v", e)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	big := bytes.Repeat([]byte("#"), MaxFileSize+1)
	if _, err := Parse("big.yaml", big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("big file: %v", err)
	}
	if c, err := Parse("empty.yaml", nil); err != nil || c.Name != "meshbox" {
		t.Fatalf("empty file: %v", err)
	}
}

package bootcfg

import (
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/config"
)

func parse(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg
}

func TestLines(t *testing.T) {
	cfg := parse(t, `
outputs:
  - {id: door, pin: 17, active_low: true, kind: momentary}
  - {id: lamp, pin: 27, boot: on}
  - {id: pump, pin: 22, active_low: true, boot: on}
  - {id: heater, pin: 5, boot: restore}
  - {id: fan, pin: 18, kind: pwm}
sensors:
  - {id: air, driver: bme280}
  - {id: probe, driver: ds18b20}
serial:
  - {id: meter, port: /dev/serial0}
`)
	got := strings.Join(Lines(cfg), "\n")
	want := strings.Join([]string{
		"dtparam=strict_gpiod",
		"dtparam=i2c_arm=on",
		"dtoverlay=w1-gpio",
		"dtoverlay=pwm-2chan,pin=18,func=2,pin2=19,func2=2",
		"enable_uart=1",
		"gpio=17=op,dh", // active-low momentary: inactive = high
		"gpio=27=op,dh", // boot on, active high
		"gpio=22=op,dl", // boot on, active low
		"gpio=5=op,dl",  // restore: off until meshbox restores
		"gpio=18=op,dl", // pwm: 0 % duty
	}, "\n")
	if got != want {
		t.Errorf("lines:\n%s\nwant:\n%s", got, want)
	}
	b := Block(cfg)
	if !strings.HasPrefix(b[0], Begin) || b[1] != "[all]" || b[len(b)-1] != End {
		t.Errorf("block framing: %q", b)
	}
}

func TestMinimalAndPWM12(t *testing.T) {
	cfg := parse(t, `
outputs:
  - {id: led, pin: 12, kind: pwm}
  - {id: led2, pin: 13, kind: pwm, active_low: true}
`)
	got := Lines(cfg)
	want := []string{"dtparam=strict_gpiod", "dtoverlay=pwm-2chan,pin=12,func=4,pin2=13,func2=4", "gpio=12=op,dl", "gpio=13=op,dh"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestWarnings(t *testing.T) {
	cfg := parse(t, `
outputs:
  - {id: garage, pin: 17, active_low: true, kind: momentary}   # pulled down: low = active -> ON
  - {id: strike, pin: 6}                                        # pulled up: high = active -> ON
  - {id: lamp, pin: 27}                                         # pulled down, active high: off
  - {id: relay, pin: 7, active_low: true}                       # pulled up, active low: off
  - {id: always, pin: 8, boot: on}                              # meant to be on
inputs:
  - {id: btn, pin: 5}
`)
	ws := Warnings(cfg)
	if len(ws) != 2 {
		t.Fatalf("warnings: %q", ws)
	}
	g, s := ws[0].Text, ws[1].Text
	if ws[0].Output != "garage" || !strings.Contains(g, "GPIO17, header pin 11") || !strings.Contains(g, "pulled down") {
		t.Errorf("garage: %s", g)
	}
	// An active-low output needs a pin pulled up: 5-8 are used, 0-4 are
	// reserved (EEPROM, I²C, 1-Wire), so none is left.
	if !strings.Contains(g, "no free pin pulled up by default is left") {
		t.Errorf("garage: %s", g)
	}
	if ws[1].Output != "strike" || !strings.Contains(s, "pulled up") || !strings.Contains(s, "GPIO9 would stay off") {
		t.Errorf("strike: %s", s)
	}
}

func TestFreePinAvoidsReserved(t *testing.T) {
	used := map[int]bool{}
	if p := freePin(used, true); p != 5 {
		t.Errorf("first free pulled-up pin = %d, want 5 (0-4 reserved)", p)
	}
	for i := 5; i <= 8; i++ {
		used[i] = true
	}
	if p := freePin(used, true); p != -1 {
		t.Errorf("no pulled-up pin left: got %d", p)
	}
	if p := freePin(map[int]bool{9: true}, false); p != 10 {
		t.Errorf("pulled-down: got %d", p)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	env := &Env{Args: args, Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e}
	err = run(context.Background(), env)
	return o.String(), e.String(), err
}

func TestCheckExample(t *testing.T) {
	out, _, err := runCmd(t, "check", "-config", filepath.Join("..", "..", "examples", "relays.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"member   garage on channel home",
		"board    pi5 (pins resolved for pi5)",
		"blind_up     switch     BCM5 (pin 29)",
		"fan          pwm        BCM12 (pin 32)  active-high, boot off, exit on, 25000 Hz, pwmchip2/0",
		"light        switch     gpiochip0:20",
		"interlock blind: at most one of blind_up, blind_down on, dead time 300ms",
		"ok: 5 outputs, 1 input, 0 sensors, 0 serial devices",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckDemo(t *testing.T) {
	out, _, err := runCmd(t, "check", "-demo")
	if err != nil || !strings.Contains(out, "config   built-in demo") || !strings.Contains(out, "dimmer       pwm") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestCheckReportsFileLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meshbox.yaml")
	data := "name: box\nsensors:\n  - id: climate\n    driver: bme280\noutputs:\n  - id: lamp\n    pin: 17\n  - id: fan\n    pin: 3\n    boot: sometimes\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCmd(t, "check", "-config", p)
	if err == nil {
		t.Fatalf("check accepted a bad config:\n%s", out)
	}
	if exitCode(err) == 0 {
		t.Fatal("exit code 0")
	}
	want := p + ":9: outputs[1].pin: BCM 3 is used by i2c (sensor \"climate\")\n" +
		p + ":10: outputs[1].boot: \"sometimes\" is not one of off, on, restore\n"
	if stderr != want {
		t.Fatalf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	if err.Error() != p+": 2 problems" {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := runCmd(t, "check", "-config", filepath.Join(t.TempDir(), "nope.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, _, err := runCmd(t, "check", "-board", "pi9", "-demo"); exitCode(err) != 2 {
		t.Fatalf("bad -board: %v", err)
	}
}

func TestPinsNamedBoard(t *testing.T) {
	out, _, err := runCmd(t, "pins", "-board", "pi5")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "Raspberry Pi 5") ||
		!strings.Contains(out, "GPIO18  PCM CLK, SPI1 CE0, PWM0_CHAN2 (pwmchip2/2)") ||
		!strings.Contains(out, "GND  39 | 40  GPIO21") {
		t.Fatalf("pins -board pi5:\n%s", out)
	}
	out, _, err = runCmd(t, "pins", "-board", "zero2w")
	if err != nil || !strings.Contains(out, "Raspberry Pi Zero 2 W") || !strings.Contains(out, "PWM0 (pwmchip0/0)") {
		t.Fatalf("pins -board zero2w: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "pins", "-board", "pi9"); exitCode(err) != 2 {
		t.Fatalf("unknown board: %v", err)
	}
}

func TestPinsWithConfig(t *testing.T) {
	out, _, err := runCmd(t, "pins", "-config", filepath.Join("..", "..", "examples", "greenhouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	find := func(sub string) string {
		for _, l := range lines {
			if strings.Contains(l, sub) {
				return l
			}
		}
		t.Fatalf("no line with %q:\n%s", sub, out)
		return ""
	}
	if l := find("GPIO17  11 |"); !strings.Contains(l, "switch vent_fan") {
		t.Errorf("pin 11: %q", l)
	}
	if l := find("GPIO2   3 |"); !strings.HasPrefix(l, "i2c air, soil, light ") {
		t.Errorf("pin 3: %q", l)
	}
	if l := find("| 16  GPIO23"); !strings.HasSuffix(l, "input door") {
		t.Errorf("pin 16: %q", l)
	}
	if l := find("GPIO4   7 |"); !strings.Contains(l, "1-wire soil_temp") {
		t.Errorf("pin 7: %q", l)
	}
	if !strings.HasPrefix(out, "Raspberry Pi 4") {
		t.Errorf("board from config: %s", lines[0])
	}
	out, _, err = runCmd(t, "pins", "-demo", "-board", "pi4")
	if err != nil || !strings.Contains(find2(out, "| 12  GPIO18"), "pwm dimmer") {
		t.Fatalf("pins -demo: %v\n%s", err, out)
	}
}

func find2(out, sub string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

package scripts_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigBuses checks the config.txt lines flash.sh derives from a
// meshbox config, in block and flow YAML style.
func TestConfigBuses(t *testing.T) {
	t.Parallel()
	requireTools(t, "bash", "awk", "grep")
	cases := []struct {
		name, yaml string
		want       []string
		warn       string
	}{
		{"empty", "name: x\n", []string{"dtparam=strict_gpiod"}, ""},
		{"commented sensor", "sensors:\n  # - driver: bme280\n", []string{"dtparam=strict_gpiod"}, ""},
		{"i2c + 1-wire", "sensors:\n  - id: a\n    driver: sht3x\n  - id: b\n    driver: \"ds18b20\"\n",
			[]string{"dtparam=strict_gpiod", "dtparam=i2c_arm=on", "dtoverlay=w1-gpio"}, ""},
		{"pwm block style, header pin", "outputs:\n  - id: fan\n    pin: phys:32  # BCM12\n    kind: pwm\n  - id: lamp\n    pin: 13\n",
			[]string{"dtparam=strict_gpiod", "dtoverlay=pwm-2chan,pin=12,func=4,pin2=19,func2=2"}, ""},
		{"pwm flow style", "outputs:\n  - {id: a, kind: pwm, pin: GPIO13}\nsensors: [{id: x, driver: bh1750}]\n",
			[]string{"dtparam=strict_gpiod", "dtparam=i2c_arm=on", "dtoverlay=pwm-2chan,pin=18,func=2,pin2=13,func2=4"}, ""},
		{"pwm on a pin without PWM", "outputs:\n  - id: a\n    kind: pwm\n    pin: 7\n",
			[]string{"dtparam=strict_gpiod"}, "hardware PWM is only on"},
		{"pwm channel clash", "outputs:\n  - {id: a, kind: pwm, pin: 12}\n  - {id: b, kind: pwm, pin: 18}\n",
			[]string{"dtparam=strict_gpiod", "dtoverlay=pwm-2chan,pin=18,func=2,pin2=19,func2=2"}, "share PWM channel 0"},
		{"pwm kind outside outputs", "inputs:\n  - id: a\n    kind: pwm\n    pin: 12\n", []string{"dtparam=strict_gpiod"}, ""},
		{"header uart", "serial:\n  - id: uno\n    port: /dev/serial0\n", []string{"dtparam=strict_gpiod", "enable_uart=1"}, ""},
		{"usb serial", "serial:\n  - {id: uno, port: /dev/ttyUSB0}\n", []string{"dtparam=strict_gpiod"}, ""},
	}
	dir := t.TempDir()
	for i, c := range cases {
		path := filepath.Join(dir, strings.Repeat("c", i+1)+".yaml")
		writeFile(t, path, c.yaml, 0o644)
		cmd := exec.Command("bash", "-c", `warn() { echo "warning: $*" >&2; }; source lib/settings.sh; config_buses "$1"`, "buses", path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, stderr.String())
		}
		if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
		if (c.warn == "") != (stderr.Len() == 0) || !strings.Contains(stderr.String(), c.warn) {
			t.Errorf("%s: warnings %q, want %q", c.name, stderr.String(), c.warn)
		}
	}
}

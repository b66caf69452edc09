// Package deploy_test checks the files scripts/flash.sh installs on the box:
// the systemd units verify with systemd-analyze and the sysusers file with
// systemd-sysusers, and the unit keeps the properties the appliance relies on.
package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func requireTool(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (apt-get install systemd)", tool)
		}
		t.Skipf("%s is missing", tool)
	}
	return p
}

// verify runs systemd-analyze verify on a copy of unit with its
// executables replaced by ones that exist here; any message about the unit
// (unknown key, bad value) fails the test.
func verify(t *testing.T, name, text string) {
	t.Helper()
	requireTool(t, "systemd-analyze")
	dir := t.TempDir()
	for _, exe := range []string{"/usr/local/bin/meshbox", "/usr/bin/raspi-config", "/usr/sbin/rfkill", "/usr/bin/install", "/usr/bin/touch"} {
		text = strings.ReplaceAll(text, exe, "/bin/true")
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("systemd-analyze", "verify", "--man=no", path)
	out, err := cmd.CombinedOutput()
	var msgs []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, name) {
			msgs = append(msgs, l)
		}
	}
	if err != nil || len(msgs) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", name, err, out)
	}
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// directives parses KEY=VALUE lines of a unit (repeated keys accumulate).
func directives(text string) map[string][]string {
	m := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if ok {
			m[k] = append(m[k], v)
		}
	}
	return m
}

func TestMeshboxServiceVerifies(t *testing.T) {
	verify(t, "meshbox.service", read(t, "meshbox.service"))
}

func TestFirstbootServiceVerifies(t *testing.T) {
	text := read(t, "meshbox-firstboot.service")
	if !strings.Contains(text, "@COUNTRY@") {
		t.Fatal("first-boot unit lost its @COUNTRY@ placeholder (flash.sh substitutes it)")
	}
	verify(t, "meshbox-firstboot.service", strings.ReplaceAll(text, "@COUNTRY@", "GB"))
}

func TestMeshboxServiceContract(t *testing.T) {
	d := directives(read(t, "meshbox.service"))
	want := map[string]string{
		"Type": "notify", "Restart": "on-failure", "WatchdogSec": "30s", "User": "meshbox",
		"SupplementaryGroups": "gpio i2c dialout", "ProtectSystem": "strict", "StateDirectory": "meshbox",
		"PrivateDevices": "no", "KillSignal": "SIGTERM", "NoNewPrivileges": "yes",
		"AmbientCapabilities": "", "CapabilityBoundingSet": "", "DevicePolicy": "closed",
		"ExecStart": "/usr/local/bin/meshbox serve -config /etc/meshbox/meshbox.yaml",
		"WantedBy":  "multi-user.target",
		// The Go runtime's soft memory limit (#16).
		"Environment": "GOMEMLIMIT=96MiB",
	}
	for k, v := range want {
		if got := d[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	devs := strings.Join(d["DeviceAllow"], ",")
	for _, dev := range []string{"char-gpiochip rw", "char-i2c rw", "char-ttyS rw", "char-ttyAMA rw", "char-ttyUSB rw", "char-ttyACM rw"} {
		if !strings.Contains(devs, dev) {
			t.Errorf("DeviceAllow lacks %q", dev)
		}
	}
	rw := strings.Join(d["ReadWritePaths"], " ")
	for _, p := range []string{"/var/lib/meshbox", "-/sys/class/pwm", "-/sys/devices/platform"} {
		if !strings.Contains(rw, p) {
			t.Errorf("ReadWritePaths lacks %s", p)
		}
	}
	if len(d["TimeoutStopSec"]) != 1 {
		t.Error("no TimeoutStopSec: outputs need time to reach their exit state")
	}
}

func TestSysusers(t *testing.T) {
	requireTool(t, "systemd-sysusers")
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\ndialout:x:20:\n"), 0o644)
	abs, _ := filepath.Abs("meshbox.sysusers")
	out, err := exec.Command("systemd-sysusers", "--root="+root, "--dry-run", abs).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	for _, want := range []string{"Creating group 'gpio'", "Creating group 'i2c'", "Creating user 'meshbox'"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sysusers output lacks %q:\n%s", want, out)
		}
	}
}

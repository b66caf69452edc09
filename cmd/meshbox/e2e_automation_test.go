package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/phonetest"
)

// TestSimCommandDrivesThermostat: `meshbox sim URL set air_temp 15` on the
// greenhouse example (-sim) makes its thermostat switch the heater on, as
// a phone sees it; `meshbox set URL heating 45` is refused (range); `meshbox
// sim URL fault air true` puts the heater in its safe state.
func TestSimCommandDrivesThermostat(t *testing.T) {
	const token = "sim-cmd-token-1234"
	addr, _, logs := startServe(t, map[string]string{"MESH_AUTH_TOKEN": token}, "-sim",
		"-config", filepath.Join("..", "..", "examples", "greenhouse.yaml"), "-listen", "127.0.0.1:1")
	url := "ws://" + addr
	phone := phonetest.Dial(t, wsURL(addr), phonetest.Options{Name: "phone", Token: token, Channel: "garden", Role: "controller"})
	cli := func(args ...string) (string, error) {
		t.Helper()
		out, errOut, err := runCmd(t, append(args, "--token", token, "--channel", "garden")...)
		return out + errOut, err
	}
	if out, err := cli("sim", url, "set", "air_temp", "15"); err != nil || !strings.Contains(out, "ok: sim air_temp = 15") {
		t.Fatalf("sim set: %v %s", err, out)
	}
	phone.ExpectBroadcast(phonetest.Msg("state", "target", "heater", "value", true), 20*time.Second)
	if out, err := cli("set", url, "heating", "45"); err == nil || !strings.Contains(err.Error()+out, "outside heating's range 5..30") {
		t.Errorf("set 45: %v %s", err, out)
	}
	if out, err := cli("sim", url, "fault", "air", "true"); err != nil {
		t.Fatalf("sim fault: %v %s", err, out)
	}
	phone.ExpectBroadcast(phonetest.Msg("state", "target", "heater", "value", false), 20*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "thermostat fail-safe") {
		if time.Now().After(deadline) {
			t.Fatal("no fail-safe log line")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

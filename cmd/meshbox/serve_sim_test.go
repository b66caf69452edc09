package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/gpio/linuxhost"
)

// TestRealConfigWithoutGPIOChipSaysSimulated: a real wiring on a machine
// without a GPIO chip (and without -sim) runs on the simulated board, and
// the log, the page and /metrics all say so.
func TestRealConfigWithoutGPIOChipSaysSimulated(t *testing.T) {
	if linuxhost.Available() {
		t.Skip("this machine has a GPIO chip")
	}
	addr, stop, logs := startServe(t, map[string]string{"MESH_AUTH_TOKEN": "tok"}, "-config", "../../examples/relays.yaml")
	base := "http://" + addr
	_, body := httpGet(t, base+"/api/session", "")
	if !bytes.Contains(body, []byte("SIMULATED hardware")) {
		t.Errorf("/api/session has no simulated-hardware warning: %s", body)
	}
	if _, body = httpGet(t, base+"/metrics", ""); !bytes.Contains(body, []byte("meshbox_simulated_hardware 1")) {
		t.Errorf("/metrics does not say the hardware is simulated:\n%s", body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="simulated hardware: no GPIO chip found`) {
		t.Errorf("no WARN about simulated hardware:\n%s", logs)
	}
}

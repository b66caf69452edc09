package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/linuxhost"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
)

// TestCloseBridgeOnPanic: a panic in serve drives the outputs to their exit
// state before it propagates.
func TestCloseBridgeOnPanic(t *testing.T) {
	board := simhost.New(simhost.Options{Empty: true})
	var logs bytes.Buffer
	b := &box{
		env:      &Env{Getenv: func(string) string { return "" }, Stdout: &logs, Stderr: &logs},
		log:      slog.New(slog.NewTextHandler(&logs, nil)),
		opts:     serveOptions{sim: true},
		cfg:      config.Demo(),
		stateDir: t.TempDir(),
	}
	if err := b.addBridge(withSimBoard(context.Background(), board)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.hw.bridge.Apply(context.Background(), "lamp", true, "test"); err != nil {
		t.Fatal(err)
	}
	lamp := gpio.Line{Offset: 17}
	if lvl, _ := board.OutputLevel(lamp); !lvl {
		t.Fatal("lamp not on")
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the original panic", r)
			}
		}()
		defer b.closeBridge()
		panic("boom")
	}()
	if lvl, _ := board.OutputLevel(lamp); lvl {
		t.Error("lamp still on after the panic: exit state not driven")
	}
}

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

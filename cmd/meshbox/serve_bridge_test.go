package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
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

package box

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// TestRunLeavesNoGoroutine runs the built-in demo and the serial example
// (sensors, inputs, serial devices played on the simulated board, every
// component; the example's mqtt: and upstream: links removed), with a
// phone that sends a command, and stops it: Run returns nil and no
// goroutine of the box is left.
func TestRunLeavesNoGoroutine(t *testing.T) {
	serial, err := config.Load("../../examples/serial.yaml")
	if err != nil {
		t.Fatal(err)
	}
	serial.MQTT, serial.Upstream = nil, nil
	for name, cfg := range map[string]*config.Config{"demo": config.Demo(), "serial": serial} {
		t.Run(name, func(t *testing.T) { runAndStop(t, cfg) })
	}
}

func runAndStop(t *testing.T, cfg *config.Config) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	logs := logtest.New(t)
	bx := startBox(t, cfg, logs.Logger())
	app := phonetest.App("iPhone", testToken)
	app.Channel = cfg.Channel
	ph := phonetest.Dial(t, bx.url(), app)
	target := cfg.Outputs[0].ID
	ph.CmdAck(target, true, "c1")
	if ack := ph.ExpectAck("c1", 10*time.Second); ack["ok"] != true {
		t.Fatalf("ack %v", ack)
	}
	ph.Close()
	if err := bx.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs.String())
	}
}

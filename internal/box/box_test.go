package box

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/pairing"
)

// TestCloseOnPanic: a panic while the box is up drives the outputs to their
// exit state (Close, deferred) before it propagates.
func TestCloseOnPanic(t *testing.T) {
	board := simhost.New(simhost.Options{Empty: true})
	var logs bytes.Buffer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	bx, err := New(Options{Config: config.Demo(), Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Listener: ln, StateDir: t.TempDir(), Sim: true, Board: board})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bx.Bridge().Apply(context.Background(), "lamp", true, "test"); err != nil {
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
		defer bx.Close()
		panic("boom")
	}()
	if lvl, _ := board.OutputLevel(lamp); lvl {
		t.Error("lamp still on after the panic: exit state not driven")
	}
	if !bytes.Contains(logs.Bytes(), []byte("panic: driving outputs to their exit state")) {
		t.Errorf("no panic log line:\n%s", logs.String())
	}
}

func TestLogPairing(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	until := time.Date(2026, 1, 1, 12, 10, 0, 0, time.Local)
	logPairing(log, "Pair")(pairing.Change{Open: true, Until: until, For: 599600 * time.Millisecond, Reason: "boot"})
	logPairing(log, "Pair")(pairing.Change{})
	logPairing(log, "")(pairing.Change{})
	logPairing(log, "")(pairing.Change{Open: true, Until: until, For: 10 * time.Minute, Reason: "the pairing button"})
	logPairing(log, "")(pairing.Change{Open: true, Always: true})
	want := `level=INFO msg="pairing open at boot" for=10m0s until=12:10:00
level=INFO msg="pairing closed; press the pairing button or run ` + "`sudo meshbox pair`" + ` to pair" button=Pair
level=INFO msg="pairing closed; run ` + "`sudo meshbox pair`" + ` to pair (no pairing button configured)"
level=INFO msg="pairing opened by the pairing button" for=10m0s until=12:10:00
level=INFO msg="pairing always open (pairing.always): the page shows the QR and the token to anyone on the LAN"
`
	if buf.String() != want {
		t.Fatalf("log:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8765": true, "localhost:0": true, "[::1]:80": true, "127.1.2.3:1": true,
		":8765": false, "0.0.0.0:8765": false, "192.168.1.50:8765": false, "[::]:8765": false, "bogus": false,
	} {
		if got := loopbackListen(addr); got != want {
			t.Errorf("loopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
}

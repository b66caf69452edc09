package hil

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A fake qemu-system-arm: prints its arguments and a marker, then echoes
// what is typed on the console.
const fakeQEMU = `#!/bin/sh
echo "ARGS $*"
echo "HIL-TARGET-START pid=1"
while read -r l; do echo "typed: $l"; done
`

func TestMachineConsole(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "qemu")
	if err := os.WriteFile(exe, []byte(fakeQEMU), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := Start(ctx, Options{QEMU: exe, Kernel: "k", DTB: "d", Initrd: "i", MAC: "52:54:00:12:34:56",
		Forward: 8765, Dir: dir, Sensors: []Sensor{{Type: "tmp105", Bus: 3, Address: 0x48, ID: "t1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	args, _, err := m.WaitConsole(ctx, "ARGS", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-M ast2600-evb", "-device tmp105,bus=aspeed.i2c.bus.3,address=0x48,id=t1",
		"hostfwd=tcp:127.0.0.1:", "-:8765", "mac=52:54:00:12:34:56", "-qmp unix:" + m.QMPPath} {
		if !strings.Contains(args, want) {
			t.Errorf("qemu args %q lack %q", args, want)
		}
	}
	if _, i, err := m.WaitConsole(ctx, "HIL-TARGET-START", 0); err != nil || i != 1 {
		t.Fatalf("marker at %d, %v", i, err)
	}
	from := m.Lines()
	if err := m.Console("kill -TERM 1"); err != nil {
		t.Fatal(err)
	}
	if l, _, err := m.WaitConsole(ctx, "typed:", from); err != nil || l != "typed: kill -TERM 1" {
		t.Fatalf("echo = %q, %v", l, err)
	}
	if _, ok := m.Seen("nothing like this"); ok {
		t.Fatal("Seen matched a line that was never printed")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.WaitConsole(ctx, "never", 0); !errors.Is(err, errExited) {
		t.Fatalf("wait after close: %v, want errExited", err)
	}
	log, err := os.ReadFile(m.ConsolePath)
	if err != nil || !strings.Contains(string(log), "typed: kill -TERM 1") {
		t.Fatalf("console log %q, %v", log, err)
	}
}

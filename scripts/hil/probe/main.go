// Command probe is the HIL harness's own stand-in for meshbox: a few hundred
// lines that drive the guest kernel's GPIO character device (periph
// gpioioctl) and an I²C TMP105 (periph sysfs i2c-dev) and speak just enough
// MeshSocket (identify → welcome, broadcast_request → broadcast) for the host
// side test to treat it as a box. It proves the emulated machine, the
// networking and the host test independently of meshbox itself
// (scripts/hil/run.sh with HIL_TARGET=probe).
//
// Usage (inside the guest):
//
//	probe -listen :8765 -chip gpiochip0 -out relay1=40:off -out lamp=42:on -out fan=43:off:on -in door=41 -pull none -bus 3 -addr 0x48
//	probe -info   # list GPIO chips and I²C buses, then exit
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"periph.io/x/conn/v3/gpio"
)

type outSpec struct {
	id   string
	line int
	exit bool
	boot bool
}

type inSpec struct {
	id   string
	line int
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger, os.Args[1:]); err != nil {
		logger.Error("probe failed", "err", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	listen := fs.String("listen", ":8765", "WebSocket listen address")
	chip := fs.String("chip", "gpiochip0", "GPIO chip")
	bus := fs.String("bus", "", "I²C bus of the TMP105 (empty: no sensor)")
	addr := fs.String("addr", "0x48", "TMP105 address")
	interval := fs.Duration("interval", time.Second, "metrics interval")
	info := fs.Bool("info", false, "print chips and buses and exit")
	pull := fs.String("pull", "none", "input bias: none|up|down|keep")
	var outs []outSpec
	var ins []inSpec
	fs.Func("out", "output ID=LINE:EXIT[:BOOT] (on|off; BOOT default off), repeatable", func(s string) error {
		id, rest, ok := strings.Cut(s, "=")
		f := strings.Split(rest, ":")
		onOff := func(v string) bool { return v == "on" || v == "off" }
		if len(f) == 2 {
			f = append(f, "off")
		}
		n, err := strconv.Atoi(f[0])
		if !ok || len(f) != 3 || err != nil || !onOff(f[1]) || !onOff(f[2]) {
			return fmt.Errorf("want ID=LINE:EXIT[:BOOT] with on|off, got %q", s)
		}
		outs = append(outs, outSpec{id: id, line: n, exit: f[1] == "on", boot: f[2] == "on"})
		return nil
	})
	fs.Func("in", "input ID=LINE, repeatable", func(s string) error {
		id, ls, ok := strings.Cut(s, "=")
		n, err := strconv.Atoi(ls)
		if !ok || err != nil {
			return fmt.Errorf("want ID=LINE, got %q", s)
		}
		ins = append(ins, inSpec{id: id, line: n})
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	bias, ok := map[string]gpio.Pull{"none": gpio.Float, "up": gpio.PullUp, "down": gpio.PullDown, "keep": gpio.PullNoChange}[*pull]
	if !ok {
		return fmt.Errorf("-pull: want none|up|down|keep, got %q", *pull)
	}
	hw, err := openHardware(*chip, bias)
	if err != nil {
		return err
	}
	if *info {
		return hw.printInfo(os.Stdout)
	}
	a, err := strconv.ParseUint(*addr, 0, 16)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	b, err := newBox(logger, hw, outs, ins, *bus, uint16(a), *interval)
	if err != nil {
		return err
	}
	return b.serve(ctx, *listen)
}

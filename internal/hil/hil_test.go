package hil

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/meshbox/meshbox/internal/wire"
)

// The guest's wiring: scripts/hil/meshbox.yaml (and the probe's flags in
// scripts/hil/run.sh) must say the same.
const (
	relayLine = 40 // output "relay1", boot off, exit off
	doorLine  = 41 // input "door", broadcasts state
	lampLine  = 42 // output "lamp", boot off, exit on
	fanLine   = 43 // output "fan", boot on, exit off
	sensorBus = 3  // /dev/i2c-3: sensor "room", driver tmp105, field "temp"
	sensorAdr = 0x48
	sensorID  = "t1"
	interval  = time.Second // the sensor's interval
	token     = "hil-token"
	boxName   = "meshbox"
)

// TestHIL boots the guest built by scripts/hil/run.sh and drives it as a
// phone while QMP plays the hardware. Run it through `make hil`.
func TestHIL(t *testing.T) {
	if os.Getenv("MESHBOX_HIL") != "1" {
		t.Skip("hardware-in-the-loop test: run `make hil` (scripts/hil/run.sh sets MESHBOX_HIL=1)")
	}
	env := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			t.Fatalf("%s is not set: run scripts/hil/run.sh", k)
		}
		return v
	}
	logDir := os.Getenv("HIL_LOGDIR")
	if logDir == "" {
		logDir = t.TempDir()
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	m, err := Start(ctx, Options{
		Kernel: env("HIL_KERNEL"), DTB: env("HIL_DTB"), Initrd: env("HIL_INITRD"), MAC: env("HIL_MAC"),
		Forward: 8765, Dir: t.TempDir(), ConsoleLog: filepath.Join(logDir, "console.log"),
		Sensors: []Sensor{{Type: "tmp105", Bus: sensorBus, Address: sensorAdr, ID: sensorID}},
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("qemu: %v", err)
		}
	})

	// step runs one stage with its own timeout; a failure names the stage and
	// shows the end of the guest's console.
	step := func(name string, timeout time.Duration, f func(ctx context.Context) error) {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, timeout)
		defer scancel()
		s := time.Now()
		if err := f(sctx); err != nil {
			t.Fatalf("step %q failed after %v: %v\n--- guest console (last 40 lines, full log %s) ---\n%s",
				name, time.Since(s).Round(time.Millisecond), err, m.ConsolePath, m.Tail(40))
		}
		t.Logf("step %q ok in %v", name, time.Since(s).Round(time.Millisecond))
	}

	var qmp *QMP
	step("qmp connect", 10*time.Second, func(ctx context.Context) error {
		q, err := DialQMP(ctx, m.QMPPath)
		qmp = q
		return err
	})
	t.Cleanup(func() { qmp.Close() })
	level := func(ctx context.Context, line int) (bool, error) {
		return qmp.QOMGetBool(ctx, GPIOPath, GPIOName(line))
	}
	// waitLevel polls the line until it reads want.
	waitLevel := func(ctx context.Context, what string, line int, want bool) error {
		for {
			got, err := level(ctx, line)
			if err != nil {
				return err
			}
			if got == want {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %s (gpiochip0 line %d) reads %v, want %v", what, GPIOName(line), line, got, want)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}

	var bootTime, readyTime time.Duration
	step("boot to target start", 120*time.Second, func(ctx context.Context) error {
		if _, _, err := m.WaitConsole(ctx, "HIL-TARGET-START", 0); err != nil {
			return err
		}
		bootTime = time.Since(t0)
		return nil
	})

	step("guest numbering matches QEMU's", time.Second, func(context.Context) error {
		for _, want := range []string{
			fmt.Sprintf("HIL-GPIO gpiochip0 %s lines=%d", GPIOLabel, GPIOLines),
			fmt.Sprintf("HIL-I2C i2c-%d %s", sensorBus, I2CAdapterName(sensorBus)),
		} {
			if _, ok := m.Seen(want); !ok {
				return fmt.Errorf("the guest did not report %q: the kernel numbers GPIO chips or I²C buses differently", want)
			}
		}
		return nil
	})

	url := fmt.Sprintf("ws://127.0.0.1:%d/", m.HostPort)
	var p *phone
	step("phone joins and sees the bridge", 90*time.Second, func(ctx context.Context) error {
		var last error
		for {
			if l, ok := m.Seen("HIL-EXIT"); ok {
				return fmt.Errorf("the target exited before it was ready (%s; last error: %v)", l, last)
			}
			if isExited(m) {
				return fmt.Errorf("qemu exited (last error: %v)", last)
			}
			if p == nil {
				p, last = dialPhone(ctx, url, token)
			}
			if p != nil {
				if err := p.send(ctx, "get_nodes", nil); err != nil {
					p.close()
					p, last = nil, err
				} else {
					rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
					_, err := p.expect(rctx, "get_nodes listing "+boxName, func(f wire.Frame) bool {
						return f.Type == "get_nodes" && f.ReplyTo != "" && hasNode(f, boxName)
					})
					rcancel()
					if err == nil {
						readyTime = time.Since(t0)
						return nil
					}
					last = err
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s never admitted a phone that sees %q: %v", url, boxName, last)
			case <-time.After(500 * time.Millisecond):
			}
		}
	})
	t.Cleanup(func() { p.close() })
	t.Logf("boot: target started %.1fs, ready (phone sees %s) %.1fs after QEMU start", bootTime.Seconds(), boxName, readyTime.Seconds())

	// Boot states: the output latch holds what meshbox requested when it
	// claimed each line (QEMU's pin level cannot show it, see GPIOLatch).
	step("outputs requested at their boot state (relay1 off, lamp off, fan on)", 5*time.Second, func(ctx context.Context) error {
		for _, o := range []struct {
			id   string
			line int
			want bool
		}{{"relay1", relayLine, false}, {"lamp", lampLine, false}, {"fan", fanLine, true}} {
			addr, bit, _ := GPIOLatch(o.line)
			v, err := qmp.ReadPhys32(ctx, addr)
			if err != nil {
				return err
			}
			if got := v&(1<<bit) != 0; got != o.want {
				return fmt.Errorf("%s (gpiochip0 line %d) was requested at %v, want %v (latch %#x = %#08x)", o.id, o.line, got, o.want, addr, v)
			}
		}
		if err := waitLevel(ctx, "relay1 boot", relayLine, false); err != nil {
			return err
		}
		return waitLevel(ctx, "lamp boot", lampLine, false)
	})

	cmd := func(ctx context.Context, target string, on bool) error {
		return p.send(ctx, "broadcast_request", map[string]any{"msg_type": "cmd", "target": target, "value": on})
	}
	for _, on := range []bool{true, false, true} {
		step(fmt.Sprintf("cmd relay1 %v -> state broadcast and line level", on), 10*time.Second, func(ctx context.Context) error {
			if err := cmd(ctx, "relay1", on); err != nil {
				return err
			}
			if _, err := p.expect(ctx, fmt.Sprintf("state relay1=%v", on), func(f wire.Frame) bool {
				v, ok := stateOf(f, "relay1")
				return ok && v == on
			}); err != nil {
				return err
			}
			return waitLevel(ctx, "relay1 after cmd", relayLine, on)
		})
	}

	// fan booted on in the latch; switching it off and on drives the pin too.
	for _, on := range []bool{false, true} {
		step(fmt.Sprintf("cmd fan %v -> state broadcast and line level", on), 10*time.Second, func(ctx context.Context) error {
			if err := cmd(ctx, "fan", on); err != nil {
				return err
			}
			if _, err := p.expect(ctx, fmt.Sprintf("state fan=%v", on), func(f wire.Frame) bool {
				v, ok := stateOf(f, "fan")
				return ok && v == on
			}); err != nil {
				return err
			}
			return waitLevel(ctx, "fan after cmd", fanLine, on)
		})
	}

	step("input edges via QMP arrive in order", 20*time.Second, func(ctx context.Context) error {
		drain(p)
		seq := []bool{true, false, true, false}
		for _, v := range seq {
			if err := qmp.QOMSet(ctx, GPIOPath, GPIOName(doorLine), v); err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond) // well above the 10 ms debounce
		}
		var got []bool
		for len(got) < len(seq) {
			f, err := p.expect(ctx, fmt.Sprintf("door state #%d (got %v so far, want %v)", len(got)+1, got, seq), func(f wire.Frame) bool {
				_, ok := stateOf(f, "door")
				return ok
			})
			if err != nil {
				return err
			}
			v, _ := stateOf(f, "door")
			got = append(got, v)
			if !slices.Equal(got, seq[:len(got)]) {
				return fmt.Errorf("door states %v, want %v", got, seq)
			}
		}
		return nil
	})

	step("metrics flowing", 3*interval+5*time.Second, func(ctx context.Context) error {
		f, err := p.expect(ctx, "a metrics broadcast with temp", func(f wire.Frame) bool {
			_, ok := metric(f, "temp")
			return ok
		})
		if err == nil {
			v, _ := metric(f, "temp")
			t.Logf("first temp metric: %v (QEMU's TMP105 powers up at 0 °C)", v)
		}
		return err
	})
	for _, mc := range []int{23500, 30500} {
		want := float64(mc) / 1000
		step(fmt.Sprintf("tmp105 %.1f°C -> metrics", want), 2*interval+5*time.Second, func(ctx context.Context) error {
			if err := qmp.QOMSet(ctx, "/machine/peripheral/"+sensorID, "temperature", mc); err != nil {
				return err
			}
			// The first reading after the change is due within one interval;
			// allow one second more for the read and the WebSocket under TCG.
			set := time.Now()
			due := set.Add(interval + time.Second)
			var last, stale float64
			seen, late := false, false
			_, err := p.expect(ctx, fmt.Sprintf("metrics temp=%.2f", want), func(f wire.Frame) bool {
				v, ok := metric(f, "temp")
				if !ok {
					return false
				}
				last, seen = v, true
				if math.Abs(v-want) < 0.07 {
					return true
				}
				if time.Now().After(due) {
					late, stale = true, v
				}
				return false
			})
			if err != nil {
				return fmt.Errorf("%w (last temp seen: %v, any metrics: %v)", err, last, seen)
			}
			if late {
				return fmt.Errorf("metrics still said %v more than %v after the sensor changed to %v", stale, interval+time.Second, want)
			}
			t.Logf("metrics followed %.1f°C after %v (interval %v)", want, time.Since(set).Round(time.Millisecond), interval)
			return nil
		})
	}

	step("SIGTERM in the guest -> outputs at exit state (relay1 off, lamp on, fan off)", 30*time.Second, func(ctx context.Context) error {
		on, err := level(ctx, relayLine)
		if err != nil {
			return err
		}
		lamp, err := level(ctx, lampLine)
		if err != nil {
			return err
		}
		fan, err := level(ctx, fanLine)
		if err != nil {
			return err
		}
		if !on || lamp || !fan {
			return fmt.Errorf("before SIGTERM relay1=%v lamp=%v fan=%v, want true false true", on, lamp, fan)
		}
		from := m.Lines()
		if err := m.Console(`kill -TERM "$(cat /run/target.pid)"`); err != nil {
			return err
		}
		line, _, err := m.WaitConsole(ctx, "HIL-EXIT", from)
		if err != nil {
			return err
		}
		if rc := regexp.MustCompile(`rc=(\d+)`).FindStringSubmatch(line); rc == nil || rc[1] != "0" {
			return fmt.Errorf("target did not exit cleanly on SIGTERM: %q", line)
		}
		lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
		defer lcancel()
		if err := waitLevel(lctx, "relay1 exit (off)", relayLine, false); err != nil {
			return err
		}
		if err := waitLevel(lctx, "lamp exit (on)", lampLine, true); err != nil {
			return err
		}
		if err := waitLevel(lctx, "fan exit (off)", fanLine, false); err != nil {
			return err
		}
		select {
		case <-p.done:
			if !websocket.IsCloseError(p.err, websocket.CloseGoingAway) {
				return fmt.Errorf("phone socket ended with %v, want close 1001 (going away)", p.err)
			}
			t.Logf("phone socket closed: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("phone socket still open after the box exited")
		}
		return nil
	})
	t.Logf("HIL-SUMMARY boot=%.1fs ready=%.1fs total=%.1fs", bootTime.Seconds(), readyTime.Seconds(), time.Since(t0).Seconds())
}

func isExited(m *Machine) bool {
	select {
	case <-m.Exited():
		return true
	default:
		return false
	}
}

func drain(p *phone) {
	for {
		select {
		case <-p.frames:
		default:
			return
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

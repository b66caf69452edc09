package simhost_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/sensor"
)

// clock is a manual clock for the board.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newBoard(t *testing.T) (*simhost.Board, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	b := simhost.New(simhost.Options{Seed: 7, Now: c.Now})
	t.Cleanup(func() { _ = b.Close() })
	return b, c
}

func TestOutputs(t *testing.T) {
	b, c := newBoard(t)
	l := gpio.Line{Offset: 17}
	o, err := b.Output(l, true)
	if err != nil {
		t.Fatal(err)
	}
	if lvl, ok := b.OutputLevel(gpio.Line{Chip: "gpiochip0", Offset: 17}); !ok || !lvl {
		t.Fatalf("initial level %v/%v, want high", lvl, ok)
	}
	c.Add(time.Second)
	if err := o.Out(false); err != nil {
		t.Fatal(err)
	}
	_ = o.Out(false) // no change: not recorded
	if o.Level() {
		t.Error("Level() after Out(false)")
	}
	h := b.OutputHistory(l)
	if len(h) != 2 || !h[0].Level || h[1].Level || h[1].Time.Sub(h[0].Time) != time.Second {
		t.Errorf("history %+v", h)
	}
	if _, err := b.Output(l, false); !errors.Is(err, simhost.ErrBusy) {
		t.Errorf("second claim: %v", err)
	}
	if _, err := b.Input(gpio.Line{Chip: "/dev/gpiochip0", Offset: 17}, gpio.PullUp); !errors.Is(err, simhost.ErrBusy) {
		t.Errorf("claim output as input: %v", err)
	}
	if _, err := b.Output(gpio.Line{Offset: 54}, false); !errors.Is(err, simhost.ErrNoLine) {
		t.Errorf("line 54: %v", err)
	}
	if _, err := b.Output(gpio.Line{Chip: "gpiochip9", Offset: 1}, false); !errors.Is(err, simhost.ErrNoLine) {
		t.Errorf("chip 9: %v", err)
	}
	boom := errors.New("boom")
	b.SetFault(l, boom)
	if err := o.Out(true); !errors.Is(err, boom) {
		t.Errorf("fault: %v", err)
	}
	b.SetFault(l, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _ = o.Out(true) }()
	if err := b.WaitOutput(ctx, l, true); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	if err := o.Out(false); !errors.Is(err, simhost.ErrClosed) {
		t.Errorf("after close: %v", err)
	}
	if lvl, _ := b.OutputLevel(l); !lvl {
		t.Error("close changed the output level")
	}
}

func TestInputsAndEdges(t *testing.T) {
	b, _ := newBoard(t)
	l := gpio.Line{Offset: 27}
	in, err := b.Input(l, gpio.PullUp)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := in.Read(); !v {
		t.Fatal("pulled-up input reads low")
	}
	if err := b.Press(l); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e, err := in.WaitForEdge(ctx)
	if err != nil || e.Level {
		t.Fatalf("press edge %+v %v, want falling", e, err)
	}
	_ = b.Release(l)
	if e, _ := in.WaitForEdge(ctx); !e.Level {
		t.Fatal("release edge not rising")
	}
	_ = b.SetInput(l, true) // no change, no edge
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := in.WaitForEdge(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no edge: %v", err)
	}
	// Flood: the newest level survives the drop-oldest buffer.
	for i := range 200 {
		_ = b.SetInput(l, i%2 == 0)
	}
	// Drain until the edges stop; a gap on a busy machine is not the end
	// while the last edge read is not at the line's level (up to 10 s).
	var last gpio.Edge
	v, _ := in.Read()
	for until := time.Now().Add(10 * time.Second); ; {
		c, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		e, err := in.WaitForEdge(c)
		cancel()
		if err == nil {
			last = e
			continue
		}
		if last.Level == v || time.Now().After(until) {
			break
		}
	}
	if last.Level != v {
		t.Errorf("last edge %v, level %v", last.Level, v)
	}
	done := make(chan error)
	go func() { _, err := in.WaitForEdge(ctx); done <- err }()
	_ = b.Close()
	if err := <-done; !errors.Is(err, simhost.ErrClosed) {
		t.Fatalf("close: %v", err)
	}
}

func TestPWM(t *testing.T) {
	b, _ := newBoard(t)
	ref := gpio.PWMRef{Chip: 0, Channel: 1, Pin: 19}
	p, err := b.PWM(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Set(1000, 0.75); err != nil || p.Duty() != 0.75 {
		t.Fatalf("set: %v duty %v", err, p.Duty())
	}
	if err := p.Set(1000, 1.5); err == nil {
		t.Error("duty 1.5 accepted")
	}
	if err := p.Set(0, 0.5); err == nil {
		t.Error("0 Hz accepted")
	}
	f, d, h, ok := b.PWMState(ref)
	if !ok || f != 1000 || d != 0.75 || len(h) != 1 {
		t.Errorf("state %v %v %v %v", f, d, h, ok)
	}
}

func TestSensorsOnSimulatedBus(t *testing.T) {
	b, c := newBoard(t)
	env := b.Env()
	env.Set("temperature", 22.37)
	env.Set("humidity", 48.2)
	env.Set("pressure", 1009.4)
	env.Set("lux", 250)
	env.Set("cpu", 51.2)
	env.Set("probe", -3) // clamped to the probe's range (5..35)
	env.Set("probe", 12.5)
	env.Set("ain2", 2.5)
	env.Set("bus_voltage", 5.0)
	env.Set("load_current", 0.5)
	ctx := context.Background()
	for _, tc := range []struct {
		driver, path string
		want         map[string]float64
		tol          float64
	}{
		{"bme280", "", map[string]float64{"temperature": 22.37, "humidity": 48.2, "pressure": 1009.4}, 0.02},
		{"sht3x", "", map[string]float64{"temperature": 22.37, "humidity": 48.2}, 0.01},
		{"bh1750", "", map[string]float64{"lux": 250}, 1},
		{"tmp102", "", map[string]float64{"temperature": 22.37}, 0.04},
		{"cputemp", "", map[string]float64{"temperature": 51.2}, 0.001},
		{"ds18b20", simhost.DemoDS18B20, map[string]float64{"temperature": 12.5}, 0.07},
	} {
		s, err := sensor.Open(tc.driver, b, "1", 0, tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.driver, err)
		}
		m, err := s.Read(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tc.driver, err)
		}
		for k, want := range tc.want {
			if got := m[k]; got < want-tc.tol || got > want+tc.tol {
				t.Errorf("%s %s = %v, want %v ±%v", tc.driver, k, got, want, tc.tol)
			}
		}
		_ = s.Close()
	}
	ads, err := sensor.Open("ads1115", b, "1", 0x49, "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ads.Read(ctx)
	if err != nil || m["ch2"] < 2.499 || m["ch2"] > 2.501 {
		t.Errorf("ads1115 %v %v", m, err)
	}
	ina, _ := sensor.Open("ina219", b, "1", 0, "")
	m, err = ina.Read(ctx)
	if err != nil || m["voltage"] != 5.0 || m["current"] < 0.4999 || m["current"] > 0.5001 || m["power"] < 2.49 || m["power"] > 2.51 {
		t.Errorf("ina219 %v %v", m, err)
	}

	// Readings drift as the board's clock runs, within bounds.
	bme, _ := sensor.Open("bme280", b, "1", 0, "")
	first, _ := bme.Read(ctx)
	c.Add(10 * time.Minute)
	later, err := bme.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first["temperature"] == later["temperature"] && first["humidity"] == later["humidity"] {
		t.Error("no drift after 10 minutes")
	}
	if later["temperature"] < 15 || later["temperature"] > 30 {
		t.Errorf("temperature drifted to %v", later["temperature"])
	}

	// Faults surface as errors, and recover.
	bus := b.Bus("1")
	bus.SetFault(0x76, io.ErrUnexpectedEOF)
	if _, err := bme.Read(ctx); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("fault: %v", err)
	}
	bus.SetFault(0x76, nil)
	if _, err := bme.Read(ctx); err != nil {
		t.Errorf("after fault: %v", err)
	}
	if dev, ok := bus.Device(0x44); ok {
		dev.(*simhost.SHT3x).SetCorruptCRC(true)
	}
	sht, _ := sensor.Open("sht3x", b, "1", 0, "")
	if _, err := sht.Read(ctx); !errors.Is(err, sensor.ErrCRC) {
		t.Errorf("corrupt crc: %v", err)
	}
	bus.Remove(0x23)
	lux, _ := sensor.Open("bh1750", b, "1", 0, "")
	if _, err := lux.Read(ctx); !errors.Is(err, simhost.ErrNACK) {
		t.Errorf("unplugged: %v", err)
	}
	b.SetFile("/sys/bus/w1/devices/"+simhost.DemoDS18B20+"/w1_slave", []byte("00 00 00 00 00 00 00 00 00 : crc=00 NO\n00 00 00 00 00 00 00 00 00 t=0\n"))
	ds, _ := sensor.Open("ds18b20", b, "", 0, simhost.DemoDS18B20)
	if _, err := ds.Read(ctx); !errors.Is(err, sensor.ErrCRC) {
		t.Errorf("ds18b20 NO: %v", err)
	}
	if _, err := b.I2C("3"); err == nil {
		t.Error("bus 3 opened")
	}
}

func TestW1SlaveFormat(t *testing.T) {
	for _, temp := range []float64{-10.125, 0, 23.125, 99.5} {
		got, err := sensor.ParseW1Slave(simhost.W1Slave(temp))
		if err != nil || got != temp {
			t.Errorf("%v -> %v, %v\n%s", temp, got, err, simhost.W1Slave(temp))
		}
	}
}

func TestSerial(t *testing.T) {
	b, _ := newBoard(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.Serial("/dev/ttyUSB0", 115200); !errors.Is(err, simhost.ErrNoPort) {
		t.Fatalf("unregistered: %v", err)
	}
	b.AddSerial("/dev/ttyUSB0")
	peerc := make(chan *simhost.SerialEnd)
	go func() {
		p, err := b.SerialPeer(ctx, "/dev/ttyUSB0")
		if err != nil {
			t.Error(err)
		}
		peerc <- p
	}()
	dev, err := b.Serial("/dev/ttyUSB0", 9600)
	if err != nil {
		t.Fatal(err)
	}
	peer := <-peerc
	if peer.Baud() != 9600 {
		t.Errorf("baud %d", peer.Baud())
	}
	if _, err := peer.Write([]byte("temp=21.5\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := dev.Read(buf)
	if err != nil || string(buf[:n]) != "temp=21.5\n" {
		t.Fatalf("device read %q %v", buf[:n], err)
	}
	_, _ = dev.Write([]byte("relay=1\n"))
	n, _ = peer.Read(buf)
	if string(buf[:n]) != "relay=1\n" {
		t.Fatalf("peer read %q", buf[:n])
	}
	_ = dev.SetReadTimeout(10 * time.Millisecond)
	if n, err := dev.Read(buf); n != 0 || err != nil {
		t.Fatalf("timeout read %d %v", n, err)
	}
	_ = dev.SetReadTimeout(0)
	errc := make(chan error)
	go func() { _, err := dev.Read(buf); errc <- err }()
	b.RemoveSerial("/dev/ttyUSB0") // unplugged
	if err := <-errc; err == nil {
		t.Fatal("read on an unplugged port succeeded")
	}
	if _, err := b.Serial("/dev/ttyUSB0", 9600); !errors.Is(err, simhost.ErrNoPort) {
		t.Fatalf("reopen unplugged: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	b, c := newBoard(t)
	o, _ := b.Output(gpio.Line{Offset: 5}, false)
	in, _ := b.Input(gpio.Line{Offset: 6}, gpio.PullDown)
	s, _ := sensor.Open("bme280", b, "1", 0, "")
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			if _, err := in.WaitForEdge(ctx); err != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				_ = o.Out((i+j)%2 == 0)
				_ = b.SetInput(gpio.Line{Offset: 6}, j%2 == 0)
				c.Add(time.Second)
				if _, err := s.Read(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	readers.Wait()
}

package simhost

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/sensor/drift"
)

// Errors reported by the simulated hardware.
var (
	ErrClosed = errors.New("simhost: board closed")
	ErrBusy   = errors.New("simhost: line already in use")
	ErrNoLine = errors.New("simhost: no such line")
)

// HeaderChip is the simulated header chip's name; Line{Chip: ""} means it.
const HeaderChip = "gpiochip0"

// headerLines is the number of lines on the simulated header chip (BCM2835).
const headerLines = 54

// Demo device addresses and paths populated by New unless Options.Empty.
const (
	DemoBus      = "1"
	DemoDS18B20  = "28-00000a1b2c3d"
	ThermalZone0 = "/sys/class/thermal/thermal_zone0/temp"
	W1Devices    = "/sys/bus/w1/devices"
)

// Options configures a Board.
type Options struct {
	// Seed makes the drift reproducible (0 is a valid seed).
	Seed uint64
	// Now is the board's clock (time.Now when nil); readings drift one step
	// per elapsed second of it.
	Now func() time.Time
	// Logger receives debug lines for every output change (discarded when nil).
	Logger *slog.Logger
	// Empty skips the demo devices (I²C sensors on bus "1", the thermal zone
	// and a DS18B20).
	Empty bool
}

// Board is the simulated board.
type Board struct {
	now func() time.Time
	log *slog.Logger
	env *drift.Env // the room the sensors sit in

	mu      sync.Mutex
	closed  bool
	wake    chan struct{} // closed and replaced on every output/PWM change
	outputs map[gpio.Line]*output
	inputs  map[gpio.Line]*inputLine
	pwms    map[pwmKey]*pwm
	buses   map[string]*Bus
	serials map[string]*serialSlot
	files   map[string]func() ([]byte, error)
	faults  map[gpio.Line]error
}

// New returns a board populated with the demo devices unless opts.Empty.
func New(opts Options) *Board {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Board{
		now:     now,
		log:     log,
		env:     drift.New(opts.Seed, now, roomSpecs()...),
		wake:    make(chan struct{}),
		outputs: map[gpio.Line]*output{},
		inputs:  map[gpio.Line]*inputLine{},
		pwms:    map[pwmKey]*pwm{},
		buses:   map[string]*Bus{},
		serials: map[string]*serialSlot{},
		files:   map[string]func() ([]byte, error){},
		faults:  map[gpio.Line]error{},
	}
	if !opts.Empty {
		b.addDemoDevices()
	}
	return b
}

func roomSpecs() []drift.Spec {
	return append(drift.Climate(),
		drift.Spec{Name: "cpu", Min: 38, Max: 70, Start: 47, Sigma: 0.3},
		drift.Spec{Name: "probe", Min: 5, Max: 35, Start: 18.5, Sigma: 0.04}, // DS18B20, e.g. in water
		drift.Spec{Name: "ain0", Min: 0, Max: 3.3, Start: 1.65, Sigma: 0.02},
		drift.Spec{Name: "ain1", Min: 0, Max: 3.3, Start: 0.8, Sigma: 0.01},
		drift.Spec{Name: "ain2", Min: 0, Max: 3.3, Start: 2.9, Sigma: 0.01},
		drift.Spec{Name: "ain3", Min: 0, Max: 3.3, Start: 0.1, Sigma: 0.005},
		drift.Spec{Name: "bus_voltage", Min: 4.6, Max: 5.3, Start: 5.05, Sigma: 0.005},
		drift.Spec{Name: "load_current", Min: 0.05, Max: 1.5, Start: 0.42, Sigma: 0.01},
	)
}

func (b *Board) addDemoDevices() {
	bus := b.Bus(DemoBus)
	bus.Add(0x76, NewBME280(b.env))
	bus.Add(0x44, NewSHT3x(b.env))
	bus.Add(0x23, NewBH1750(b.env))
	bus.Add(0x48, NewTMP102(b.env))
	bus.Add(0x49, NewADS1115(b.env))
	bus.Add(0x40, NewINA219(b.env, 0.1))
	b.AddThermalZone(ThermalZone0, "cpu")
	b.AddDS18B20(DemoDS18B20, "probe")
}

// Env is the drifting environment the demo sensors measure; tests step it
// or force values (names: temperature, humidity, pressure, lux, cpu, probe,
// ain0..ain3, bus_voltage, load_current).
func (b *Board) Env() *drift.Env { return b.env }

func (b *Board) String() string { return "simulated board" }

// Simulated implements gpio.Simulator.
func (b *Board) Simulated() bool { return true }

// Close releases every line: pending WaitForEdge calls return ErrClosed and
// further writes fail. Outputs keep their last level, as real pins would, so
// tests can check the exit state after Close.
func (b *Board) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for _, in := range b.inputs {
		if in.claimed {
			close(in.done)
		}
	}
	for _, s := range b.serials {
		s.closeConn()
	}
	return nil
}

// normLine maps the header aliases to HeaderChip and checks the offset.
func normLine(l gpio.Line) (gpio.Line, error) {
	chip := strings.TrimPrefix(l.Chip, "/dev/")
	if chip == "" {
		chip = HeaderChip
	}
	if chip != HeaderChip {
		return l, fmt.Errorf("%w: chip %q (the simulated board has %s)", ErrNoLine, l.Chip, HeaderChip)
	}
	if l.Offset < 0 || l.Offset >= headerLines {
		return l, fmt.Errorf("%w: %s line %d (0..%d)", ErrNoLine, chip, l.Offset, headerLines-1)
	}
	return gpio.Line{Chip: chip, Offset: l.Offset}, nil
}

func lineName(l gpio.Line) string { return fmt.Sprintf("%s:%d", l.Chip, l.Offset) }

// SetFault makes every later Out/Read on line fail with err (nil clears it).
func (b *Board) SetFault(l gpio.Line, err error) {
	nl, e := normLine(l)
	if e != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		delete(b.faults, nl)
	} else {
		b.faults[nl] = err
	}
}

// changed wakes everyone waiting for an output change; b.mu held.
func (b *Board) changed() {
	close(b.wake)
	b.wake = make(chan struct{})
}

// I2C opens a simulated bus by name; an unknown bus is an error.
func (b *Board) I2C(bus string) (i2c.BusCloser, error) {
	name := busName(bus)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	bb, ok := b.buses[name]
	if !ok {
		return nil, fmt.Errorf("simhost: no I²C bus %q", bus)
	}
	return &busHandle{bus: bb}, nil
}

// Bus returns the simulated I²C bus name, creating it if needed.
func (b *Board) Bus(name string) *Bus {
	b.mu.Lock()
	defer b.mu.Unlock()
	bb, ok := b.buses[name]
	if !ok {
		bb = &Bus{name: name, devs: map[uint16]Device{}, faults: map[uint16]error{}}
		b.buses[name] = bb
	}
	return bb
}

var _ gpio.Host = (*Board)(nil)

package simdrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
)

// Errors (their text is the reason in command_ack).
var (
	ErrNotSimulated = errors.New("not simulated")
	ErrUnknown      = errors.New("unknown sim target")
	ErrBadValue     = errors.New("bad sim value")
	// ErrFault is what a faulted sensor's reads return.
	ErrFault = errors.New("simulated fault")
)

// Driver forces readings, input levels and faults on a simulated board.
type Driver struct {
	board   *simhost.Board
	fields  map[string]fieldRef // metric key -> where it comes from
	inputs  map[string]config.Input
	sensors map[string]bool

	mu     sync.Mutex
	forced map[string]float64 // metric key -> value
	faults map[string]bool    // sensor id -> failing
	levels map[string]bool    // input id -> forced
}

type fieldRef struct {
	sensor string
	source string // driver field
	scale  float64
	offset float64
}

// New returns a Driver for cfg on board (nil board: real hardware; every
// call is refused with ErrNotSimulated).
func New(cfg *config.Config, board *simhost.Board) *Driver {
	if board == nil {
		return nil
	}
	d := &Driver{board: board, fields: map[string]fieldRef{}, inputs: map[string]config.Input{}, sensors: map[string]bool{},
		forced: map[string]float64{}, faults: map[string]bool{}, levels: map[string]bool{}}
	drivers := config.Drivers()
	for _, s := range cfg.Sensors {
		d.sensors[s.ID] = true
		if len(s.Fields) == 0 {
			for f := range drivers[s.Driver].Fields {
				d.fields[s.ID+"_"+f] = fieldRef{sensor: s.ID, source: f, scale: 1}
			}
			continue
		}
		for _, f := range s.Fields {
			src := f.Source
			if src == "" {
				src = f.Name
			}
			scale := f.Scale
			if scale == 0 {
				scale = 1
			}
			d.fields[f.Name] = fieldRef{sensor: s.ID, source: src, scale: scale, offset: f.Offset}
		}
	}
	for _, in := range cfg.Inputs {
		d.inputs[in.ID] = in
	}
	return d
}

// Frame is one {"msg_type":"sim",...} message.
type Frame struct {
	Target string          `json:"target"`
	Value  json.RawMessage `json:"value"`
	Fault  *bool           `json:"fault"`
}

// ParseFrame decodes a sim frame's payload.
func ParseFrame(payload []byte) (Frame, error) {
	var f Frame
	if err := json.Unmarshal(payload, &f); err != nil {
		return Frame{}, fmt.Errorf("%w: %v", ErrBadValue, err)
	}
	if f.Target == "" {
		return Frame{}, fmt.Errorf("%w: missing target", ErrUnknown)
	}
	return f, nil
}

// Handle applies one frame: a fault on a sensor, or a value (number, bool
// or null) for a sensor field or input.
func (d *Driver) Handle(f Frame) error {
	if d == nil {
		return ErrNotSimulated
	}
	if f.Fault != nil {
		return d.SetFault(f.Target, *f.Fault)
	}
	var v any
	if len(f.Value) > 0 {
		if err := json.Unmarshal(f.Value, &v); err != nil {
			return fmt.Errorf("%w: %v", ErrBadValue, err)
		}
	}
	return d.Set(f.Target, v)
}

// Set forces a sensor field (a number; nil returns it to drifting) or an
// input's level (a bool; nil releases it to its inactive level).
func (d *Driver) Set(target string, v any) error {
	if d == nil {
		return ErrNotSimulated
	}
	if _, ok := d.fields[target]; ok {
		d.mu.Lock()
		defer d.mu.Unlock()
		if v == nil {
			delete(d.forced, target)
			return nil
		}
		n, ok := v.(float64)
		if !ok || math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Errorf("%w: sensor field %s takes a number or null", ErrBadValue, target)
		}
		d.forced[target] = n
		return nil
	}
	if in, ok := d.inputs[target]; ok {
		active := false
		if v != nil {
			b, ok := v.(bool)
			if !ok {
				return fmt.Errorf("%w: input %s takes true, false or null", ErrBadValue, target)
			}
			active = b
		}
		line := gpio.Line{Offset: in.Pin.BCM}
		if in.Pin.Chip != "" {
			line = gpio.Line{Chip: in.Pin.Chip, Offset: in.Pin.Line}
		}
		d.mu.Lock()
		if v == nil {
			delete(d.levels, target)
		} else {
			d.levels[target] = active
		}
		d.mu.Unlock()
		return d.board.SetInput(line, active != in.ActiveLow)
	}
	if d.sensors[target] {
		return fmt.Errorf("%w: %s is a sensor; force one of its fields, or send fault", ErrBadValue, target)
	}
	return fmt.Errorf("%w: %q (a sensor field, input or, with fault, sensor)", ErrUnknown, target)
}

// SetFault makes a sensor's reads fail (or work again).
func (d *Driver) SetFault(sensorID string, on bool) error {
	if d == nil {
		return ErrNotSimulated
	}
	if !d.sensors[sensorID] {
		return fmt.Errorf("%w: %q is not a sensor", ErrUnknown, sensorID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if on {
		d.faults[sensorID] = true
	} else {
		delete(d.faults, sensorID)
	}
	return nil
}

// State lists what is forced, for the page's sim panel.
func (d *Driver) State() map[string]any {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	m := map[string]any{}
	for k, v := range d.forced {
		m[k] = v
	}
	for k, v := range d.levels {
		m[k] = v
	}
	for k := range d.faults {
		m[k] = "fault"
	}
	return m
}

// OpenSensor wraps open so forced fields and faults apply to what the
// sensor reads.
func (d *Driver) OpenSensor(open func(gpio.Host, config.Sensor) (bridge.SensorReader, error)) func(gpio.Host, config.Sensor) (bridge.SensorReader, error) {
	if d == nil {
		return open
	}
	return func(h gpio.Host, s config.Sensor) (bridge.SensorReader, error) {
		d.mu.Lock()
		fault := d.faults[s.ID]
		d.mu.Unlock()
		if fault {
			return nil, ErrFault
		}
		r, err := open(h, s)
		if err != nil {
			return nil, err
		}
		return &reader{d: d, id: s.ID, inner: r}, nil
	}
}

type reader struct {
	d     *Driver
	id    string
	inner bridge.SensorReader
}

func (r *reader) Read(ctx context.Context) (map[string]float64, error) {
	d := r.d
	d.mu.Lock()
	fault := d.faults[r.id]
	d.mu.Unlock()
	if fault {
		return nil, ErrFault
	}
	vals, err := r.inner.Read(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out map[string]float64
	for k, v := range d.forced {
		ref := d.fields[k]
		if ref.sensor != r.id {
			continue
		}
		if out == nil {
			out = make(map[string]float64, len(vals)+1)
			for f, x := range vals {
				out[f] = x
			}
		}
		out[ref.source] = (v - ref.offset) / ref.scale
	}
	if out == nil {
		return vals, nil
	}
	return out, nil
}

func (r *reader) Close() error { return r.inner.Close() }

package simhost

import (
	"context"
	"fmt"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
)

// Change is one level change of a simulated output.
type Change struct {
	Level bool
	Time  time.Time
}

type output struct {
	line    gpio.Line
	level   bool
	history []Change
}

// Output claims l as an output driven at initial.
func (b *Board) Output(l gpio.Line, initial bool) (gpio.Output, error) {
	nl, err := b.lockClaimable(l)
	if err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	o := &output{line: nl, level: initial, history: []Change{{initial, b.now()}}}
	b.outputs[nl] = o
	b.changed()
	b.log.Debug("sim output claimed", "line", lineName(nl), "level", initial)
	return &outHandle{b: b, o: o}, nil
}

// lockClaimable normalises l and locks b.mu if the board is open and the
// line free; on success the caller holds b.mu and must unlock it.
func (b *Board) lockClaimable(l gpio.Line) (gpio.Line, error) {
	nl, err := normLine(l)
	if err != nil {
		return nl, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nl, ErrClosed
	}
	if err := b.claimable(nl); err != nil {
		b.mu.Unlock()
		return nl, err
	}
	return nl, nil
}

// claimable: b.mu held.
func (b *Board) claimable(nl gpio.Line) error {
	if _, ok := b.outputs[nl]; ok {
		return fmt.Errorf("%w: %s is an output", ErrBusy, lineName(nl))
	}
	if in, ok := b.inputs[nl]; ok && in.claimed {
		return fmt.Errorf("%w: %s is an input", ErrBusy, lineName(nl))
	}
	return nil
}

type outHandle struct {
	b *Board
	o *output
}

func (h *outHandle) Out(level bool) error {
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if err := b.faults[h.o.line]; err != nil {
		return fmt.Errorf("%s: %w", lineName(h.o.line), err)
	}
	if h.o.level != level {
		h.o.level = level
		h.o.history = append(h.o.history, Change{level, b.now()})
		b.log.Debug("sim output", "line", lineName(h.o.line), "level", level)
	}
	b.changed()
	return nil
}

func (h *outHandle) Level() bool {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	return h.o.level
}

func (h *outHandle) String() string { return "sim-out " + lineName(h.o.line) }

// OutputLevel returns the level of the output on l; ok is false when l is
// not a claimed output.
func (b *Board) OutputLevel(l gpio.Line) (level, ok bool) {
	nl, err := normLine(l)
	if err != nil {
		return false, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.outputs[nl]
	if !ok {
		return false, false
	}
	return o.level, true
}

// OutputHistory returns every level the output on l has had, starting with
// the level it was claimed at.
func (b *Board) OutputHistory(l gpio.Line) []Change {
	nl, err := normLine(l)
	if err != nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if o, ok := b.outputs[nl]; ok {
		return append([]Change(nil), o.history...)
	}
	return nil
}

// WaitOutput blocks until the output on l is claimed and at level, or ctx is
// done.
func (b *Board) WaitOutput(ctx context.Context, l gpio.Line, level bool) error {
	nl, err := normLine(l)
	if err != nil {
		return err
	}
	for {
		b.mu.Lock()
		o, ok := b.outputs[nl]
		if ok && o.level == level {
			b.mu.Unlock()
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s = %v: %w", lineName(nl), level, ctx.Err())
		case <-wake:
		}
	}
}

// edgeBuffer is how many undelivered edges an input keeps (oldest dropped).
const edgeBuffer = 64

type inputLine struct {
	line    gpio.Line
	level   bool
	set     bool // level was set by a test before the line was claimed
	pull    gpio.Pull
	claimed bool
	edges   chan gpio.Edge
	done    chan struct{} // closed by Board.Close
}

// Input claims l as an input. Its level starts at what the pull implies
// (high for PullUp, low otherwise) unless a test set it before.
func (b *Board) Input(l gpio.Line, pull gpio.Pull) (gpio.Input, error) {
	nl, err := b.lockClaimable(l)
	if err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	in := b.inputs[nl]
	if in == nil {
		in = &inputLine{line: nl}
		b.inputs[nl] = in
	}
	in.claimed, in.pull = true, pull
	in.edges = make(chan gpio.Edge, edgeBuffer)
	in.done = make(chan struct{})
	if !in.set {
		in.level = pull == gpio.PullUp
	}
	return &inHandle{b: b, in: in}, nil
}

// SetInput drives the simulated signal on l (claimed or not). A change of
// level on a claimed input delivers an edge to WaitForEdge.
func (b *Board) SetInput(l gpio.Line, level bool) error {
	nl, err := normLine(l)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if _, ok := b.outputs[nl]; ok {
		return fmt.Errorf("%w: %s is an output", ErrBusy, lineName(nl))
	}
	in := b.inputs[nl]
	if in == nil {
		in = &inputLine{line: nl}
		b.inputs[nl] = in
	}
	in.set = true
	if in.level == level {
		return nil
	}
	in.level = level
	if in.claimed {
		e := gpio.Edge{Level: level, Time: b.now()}
		for {
			select {
			case in.edges <- e:
				return nil
			default:
				select { // full: drop the oldest edge, keep the newest
				case <-in.edges:
				default:
				}
			}
		}
	}
	return nil
}

// activeLevel is the level a pressed button drives: low against a pull-up,
// high otherwise.
func (b *Board) activeLevel(nl gpio.Line) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if in, ok := b.inputs[nl]; ok && in.claimed {
		return in.pull != gpio.PullUp
	}
	return true
}

// Press drives a button on l to its active level (low against a pull-up).
func (b *Board) Press(l gpio.Line) error {
	nl, err := normLine(l)
	if err != nil {
		return err
	}
	return b.SetInput(nl, b.activeLevel(nl))
}

// Release drives a button on l back to its idle level.
func (b *Board) Release(l gpio.Line) error {
	nl, err := normLine(l)
	if err != nil {
		return err
	}
	return b.SetInput(nl, !b.activeLevel(nl))
}

type inHandle struct {
	b  *Board
	in *inputLine
}

func (h *inHandle) Read() (bool, error) {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if h.b.closed {
		return false, ErrClosed
	}
	if err := h.b.faults[h.in.line]; err != nil {
		return false, fmt.Errorf("%s: %w", lineName(h.in.line), err)
	}
	return h.in.level, nil
}

func (h *inHandle) WaitForEdge(ctx context.Context) (gpio.Edge, error) {
	select {
	case e := <-h.in.edges:
		return e, nil
	case <-ctx.Done():
		return gpio.Edge{}, ctx.Err()
	case <-h.in.done:
		return gpio.Edge{}, ErrClosed
	}
}

func (h *inHandle) String() string { return "sim-in " + lineName(h.in.line) }

package bridge

import (
	"context"
	"encoding/json"
	"errors"
)

// ErrNotSimulated refuses a sim frame on real hardware.
var ErrNotSimulated = errors.New("not simulated")

// ExtraControls are controls served by another part of the box (the
// automation engine: a thermostat's target, an automation's enabled
// flag). They are set with cmd/set like an output; their values are in
// control_snapshot once published with SetControl.
type ExtraControls interface {
	Has(id string) bool
	Set(ctx context.Context, id string, value any, from string) (any, error)
}

// SetControl records the value of an extra control (or a read-only status
// control) and publishes it as an EventState ({"msg_type":"state",...}).
func (b *Bridge) SetControl(id string, value any) {
	b.record(id, value, true, false)
}

// applyExtra sets an extra control; ok is false when id is not one.
func (b *Bridge) applyExtra(ctx context.Context, id string, value any, from string) (v any, err error, ok bool) {
	x := b.opts.Controls
	if x == nil || !x.Has(id) {
		return nil, nil, false
	}
	if raw, isRaw := value.(json.RawMessage); isRaw {
		var d any
		if json.Unmarshal(raw, &d) == nil {
			value = d
		}
	}
	v, err = x.Set(ctx, id, value, from)
	if err == nil {
		b.record(id, v, true, true)
	}
	return v, err, true
}

// sim runs a {"msg_type":"sim",...} frame through Options.Sim.
func (b *Bridge) sim(m inMsg) error {
	if b.opts.Sim == nil {
		return ErrNotSimulated
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return b.opts.Sim(raw)
}

type notifyMsg struct {
	MsgType string `json:"msg_type"`
	Source  string `json:"source"`
	Text    string `json:"text"`
}

// SetSnapshotValue puts value under id in control_snapshot without a state
// event and without bumping the version: the history's trend backfill (a
// sparkline's array of recent readings, which a phone gets on admission
// and then extends from the metrics broadcasts). value must not be changed
// afterwards, and must be comparable with == (a pointer to a fresh slice
// each time, not a slice: values are compared when they change).
func (b *Bridge) SetSnapshotValue(id string, value any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.values[id] = value
}

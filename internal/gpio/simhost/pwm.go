package simhost

import (
	"fmt"
	"math"

	"github.com/meshbox/meshbox/internal/gpio"
)

type pwmKey struct{ chip, channel int }

type pwm struct {
	ref     gpio.PWMRef
	freq    float64
	duty    float64
	history []float64 // duties set, in order
}

// PWM claims a simulated PWM channel; it starts off (duty 0).
func (b *Board) PWM(ref gpio.PWMRef) (gpio.PWM, error) {
	if ref.Chip < 0 || ref.Channel < 0 || ref.Channel > 3 {
		return nil, fmt.Errorf("%w: pwmchip%d channel %d", ErrNoLine, ref.Chip, ref.Channel)
	}
	k := pwmKey{ref.Chip, ref.Channel}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if _, ok := b.pwms[k]; ok {
		return nil, fmt.Errorf("%w: pwmchip%d/pwm%d", ErrBusy, ref.Chip, ref.Channel)
	}
	p := &pwm{ref: ref}
	b.pwms[k] = p
	return &pwmHandle{b: b, p: p}, nil
}

type pwmHandle struct {
	b *Board
	p *pwm
}

func (h *pwmHandle) Set(freq, duty float64) error {
	if !(freq > 0 && freq <= 1e6) || math.IsNaN(duty) || duty < 0 || duty > 1 {
		return fmt.Errorf("sim pwm: invalid frequency %v Hz / duty %v", freq, duty)
	}
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	h.p.freq, h.p.duty = freq, duty
	h.p.history = append(h.p.history, duty)
	b.changed()
	return nil
}

func (h *pwmHandle) Duty() float64 {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	return h.p.duty
}

func (h *pwmHandle) String() string {
	return fmt.Sprintf("sim-pwm pwmchip%d/pwm%d", h.p.ref.Chip, h.p.ref.Channel)
}

// PWMState returns a claimed channel's frequency, duty and the duties it was
// set to in order; ok is false when it was never opened.
func (b *Board) PWMState(ref gpio.PWMRef) (freq, duty float64, history []float64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.pwms[pwmKey{ref.Chip, ref.Channel}]
	if !ok {
		return 0, 0, nil, false
	}
	return p.freq, p.duty, append([]float64(nil), p.history...), true
}

package simhost

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/physic"
)

// ErrNACK is what a transaction to an absent device fails with.
var ErrNACK = errors.New("simhost: no acknowledge")

// Device is a simulated I²C device: one combined write-then-read
// transaction, as i2c.Bus.Tx does it.
type Device interface {
	Tx(w, r []byte) error
}

// Bus is a simulated I²C bus.
type Bus struct {
	name   string
	mu     sync.Mutex
	devs   map[uint16]Device
	faults map[uint16]error
	txs    int
}

// Add attaches dev at addr (replacing what was there).
func (b *Bus) Add(addr uint16, dev Device) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.devs[addr] = dev
}

// Remove detaches the device at addr (it stops acknowledging: "unplugged").
func (b *Bus) Remove(addr uint16) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.devs, addr)
}

// Device returns the device at addr.
func (b *Bus) Device(addr uint16) (Device, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.devs[addr]
	return d, ok
}

// SetFault makes every transaction to addr fail with err (nil clears it).
func (b *Bus) SetFault(addr uint16, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		delete(b.faults, addr)
	} else {
		b.faults[addr] = err
	}
}

// Transactions counts the transactions seen so far.
func (b *Bus) Transactions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.txs
}

func (b *Bus) tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	b.txs++
	dev, ok := b.devs[addr]
	fault := b.faults[addr]
	b.mu.Unlock()
	if fault != nil {
		return fmt.Errorf("sim i2c-%s 0x%02x: %w", b.name, addr, fault)
	}
	if !ok {
		return fmt.Errorf("sim i2c-%s 0x%02x: %w", b.name, addr, ErrNACK)
	}
	if err := dev.Tx(w, r); err != nil {
		return fmt.Errorf("sim i2c-%s 0x%02x: %w", b.name, addr, err)
	}
	return nil
}

// busHandle is one opener's view of a Bus (i2c.BusCloser).
type busHandle struct {
	bus *Bus
	mu  sync.Mutex
	cls bool
}

func (h *busHandle) Tx(addr uint16, w, r []byte) error {
	h.mu.Lock()
	closed := h.cls
	h.mu.Unlock()
	if closed {
		return fmt.Errorf("sim i2c-%s: %w", h.bus.name, ErrClosed)
	}
	return h.bus.tx(addr, w, r)
}

func (h *busHandle) SetSpeed(physic.Frequency) error { return nil }
func (h *busHandle) String() string                  { return "sim-i2c-" + h.bus.name }
func (h *busHandle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cls = true
	return nil
}

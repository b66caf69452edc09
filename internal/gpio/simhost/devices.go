package simhost

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/meshbox/meshbox/internal/sensor"
	"github.com/meshbox/meshbox/internal/sensor/drift"
)

// byteRegs is a device with 8-bit registers and an auto-incrementing
// register pointer (BME280 style).
type byteRegs struct {
	mu      sync.Mutex
	regs    [256]byte
	ptr     byte
	onWrite func(reg, val byte) // called with mu held
}

func (d *byteRegs) Tx(w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(w) > 0 {
		d.ptr = w[0]
		// Burst writes are register/value pairs (BME280 §6.2.1).
		for i := 0; i+1 < len(w); i += 2 {
			d.regs[w[i]] = w[i+1]
			if d.onWrite != nil {
				d.onWrite(w[i], w[i+1])
			}
		}
	}
	for i := range r {
		r[i] = d.regs[d.ptr+byte(i)]
	}
	return nil
}

// BME280 is a simulated Bosch BME280 in the environment env (temperature,
// humidity, pressure). It carries the datasheet's example calibration and
// answers forced-mode measurements with the raw values that calibration
// turns into the environment's current readings.
type BME280 struct {
	byteRegs
	env *drift.Env
	cal sensor.BME280Calibration
}

// NewBME280 returns a simulated BME280 measuring env.
func NewBME280(env *drift.Env) *BME280 {
	d := &BME280{env: env, cal: sensor.BME280Calibration{
		T1: 27504, T2: 26435, T3: -1000,
		P1: 36477, P2: -10685, P3: 3024, P4: 2855, P5: 140, P6: -7, P7: 15500, P8: -14600, P9: 6000,
		H1: 75, H2: 362, H3: 0, H4: 313, H5: 50, H6: 30,
	}}
	c := d.cal
	le := binary.LittleEndian
	tp := d.regs[0x88:0xA2]
	le.PutUint16(tp[0:], c.T1)
	le.PutUint16(tp[2:], uint16(c.T2))
	le.PutUint16(tp[4:], uint16(c.T3))
	le.PutUint16(tp[6:], c.P1)
	for i, v := range []int16{c.P2, c.P3, c.P4, c.P5, c.P6, c.P7, c.P8, c.P9} {
		le.PutUint16(tp[8+2*i:], uint16(v))
	}
	tp[25] = c.H1
	h := d.regs[0xE1:0xE8]
	le.PutUint16(h, uint16(c.H2))
	h[2] = c.H3
	h[3] = byte(c.H4 >> 4)
	h[4] = byte(c.H4&0x0F) | byte(c.H5&0x0F)<<4
	h[5] = byte(c.H5 >> 4)
	h[6] = byte(c.H6)
	d.regs[0xD0] = 0x60
	d.regs[0xF7], d.regs[0xFA], d.regs[0xFD] = 0x80, 0x80, 0x80 // "skipped" until measured
	d.onWrite = d.write
	return d
}

// search returns the smallest x in [lo, hi) with f(x) true, f monotonic.
func search(lo, hi int32, f func(int32) bool) int32 {
	for lo < hi {
		m := lo + (hi-lo)/2
		if f(m) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

func (d *BME280) write(reg, val byte) {
	switch {
	case reg == 0xE0 && val == 0xB6: // soft reset
		d.regs[0xF2], d.regs[0xF4], d.regs[0xF5] = 0, 0, 0
	case reg == 0xF4 && val&0x03 != 0: // forced (or normal) mode: measure now
		v := d.env.Values()
		c := &d.cal
		adcT := search(0, 1<<20, func(x int32) bool { _, t := c.TFine(x); return float64(t)/100 >= v["temperature"] })
		tFine, _ := c.TFine(adcT)
		adcP := search(0, 1<<20, func(x int32) bool { return float64(c.Pressure(x, tFine))/25600 <= v["pressure"] })
		adcH := search(0, 1<<16, func(x int32) bool { return float64(c.Humidity(x, tFine))/1024 >= v["humidity"] })
		put20 := func(at int, x int32) { d.regs[at], d.regs[at+1], d.regs[at+2] = byte(x>>12), byte(x>>4), byte(x<<4) }
		put20(0xF7, adcP)
		put20(0xFA, adcT)
		d.regs[0xFD], d.regs[0xFE] = byte(adcH>>8), byte(adcH)
		if val&0x03 != 0x03 {
			d.regs[0xF4] = val &^ 0x03 // forced mode returns to sleep
		}
	}
}

// wordRegs is a device with 16-bit big-endian registers behind a pointer
// register (TMP102, ADS1115, INA219 style).
type wordRegs struct {
	mu      sync.Mutex
	regs    map[byte]uint16
	ptr     byte
	onWrite func(reg byte, val uint16) // mu held
	onRead  func(reg byte) uint16      // mu held; nil = stored value
}

func (d *wordRegs) Tx(w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(w) > 0 {
		if _, ok := d.regs[w[0]]; !ok {
			return fmt.Errorf("%w: register 0x%02x", ErrNACK, w[0])
		}
		d.ptr = w[0]
		switch len(w) {
		case 1:
		case 3:
			v := uint16(w[1])<<8 | uint16(w[2])
			d.regs[d.ptr] = v
			if d.onWrite != nil {
				d.onWrite(d.ptr, v)
			}
		default:
			return fmt.Errorf("%w: %d-byte write", ErrNACK, len(w))
		}
	}
	if len(r) > 0 {
		v := d.regs[d.ptr]
		if d.onRead != nil {
			v = d.onRead(d.ptr)
		}
		for i := range r {
			r[i] = byte(v >> (8 * (1 - i%2)))
		}
	}
	return nil
}

// TMP102 is a simulated TI TMP102 (12-bit) measuring env's "temperature".
type TMP102 struct{ wordRegs }

// NewTMP102 returns a simulated TMP102.
func NewTMP102(env *drift.Env) *TMP102 {
	d := &TMP102{wordRegs{regs: map[byte]uint16{0: 0, 1: 0x60A0, 2: 0x4B00, 3: 0x5000}}}
	d.onRead = func(reg byte) uint16 {
		if reg != 0 {
			return d.regs[reg]
		}
		raw := int16(math.Round(env.Get("temperature") / 0.0625))
		return uint16(raw << 4)
	}
	return d
}

// ADS1115 is a simulated TI ADS1115 whose four inputs read env's
// "ain0".."ain3" volts.
type ADS1115 struct{ wordRegs }

// NewADS1115 returns a simulated ADS1115.
func NewADS1115(env *drift.Env) *ADS1115 {
	d := &ADS1115{wordRegs{regs: map[byte]uint16{0: 0, 1: 0x8583, 2: 0x8000, 3: 0x7FFF}}}
	d.onWrite = func(reg byte, v uint16) {
		if reg != 1 || v&0x8000 == 0 {
			return
		}
		fs := [8]float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256}[v>>9&7]
		mux := v >> 12 & 7
		var volts float64
		if mux >= 4 {
			volts = env.Get(fmt.Sprintf("ain%d", mux-4))
		} else { // differential pairs: AIN0-AIN1 etc.; not wired in the demo
			volts = 0
		}
		raw := math.Round(volts / fs * 32768)
		raw = math.Max(-32768, math.Min(32767, raw))
		d.regs[0] = uint16(int16(raw))
		d.regs[1] = v | 0x8000 // conversion done at once
	}
	return d
}

// INA219 is a simulated TI INA219 with the given shunt (Ω) reading env's
// "bus_voltage" (V) and "load_current" (A).
type INA219 struct{ wordRegs }

// NewINA219 returns a simulated INA219.
func NewINA219(env *drift.Env, shunt float64) *INA219 {
	d := &INA219{wordRegs{regs: map[byte]uint16{0: 0x399F, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0}}}
	d.onRead = func(reg byte) uint16 {
		v := env.Values()
		shuntCounts := math.Round(v["load_current"] * shunt / 10e-6)
		cal := float64(d.regs[5])
		cur := math.Trunc(shuntCounts * cal / 4096)
		bus := math.Round(v["bus_voltage"] / 0.004)
		switch reg {
		case 1:
			return uint16(int16(shuntCounts))
		case 2:
			return uint16(bus)<<3 | 0x02
		case 3:
			return uint16(math.Trunc(cur * bus / 5000))
		case 4:
			return uint16(int16(cur))
		}
		return d.regs[reg]
	}
	return d
}

// SHT3x is a simulated Sensirion SHT3x answering single-shot measurements
// with CRC-protected words from env's "temperature" and "humidity".
type SHT3x struct {
	mu      sync.Mutex
	env     *drift.Env
	pending []byte
	// CorruptCRC flips a CRC bit in the next answer (tests of ErrCRC).
	CorruptCRC bool
}

// NewSHT3x returns a simulated SHT3x.
func NewSHT3x(env *drift.Env) *SHT3x { return &SHT3x{env: env} }

// SetCorruptCRC makes the next answer carry a wrong CRC.
func (d *SHT3x) SetCorruptCRC(v bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.CorruptCRC = v
}

func (d *SHT3x) Tx(w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(w) == 2 {
		switch cmd := uint16(w[0])<<8 | uint16(w[1]); cmd {
		case 0x2400, 0x240B, 0x2416, 0x2C06, 0x2C0D, 0x2C10: // single shot
			v := d.env.Values()
			t := uint16(math.Round((v["temperature"] + 45) / 175 * 65535))
			h := uint16(math.Round(v["humidity"] / 100 * 65535))
			p := []byte{byte(t >> 8), byte(t), 0, byte(h >> 8), byte(h), 0}
			p[2] = crcSensirion(p[0:2])
			p[5] = crcSensirion(p[3:5])
			if d.CorruptCRC {
				p[5] ^= 0x01
				d.CorruptCRC = false
			}
			d.pending = p
		case 0x30A2: // soft reset
			d.pending = nil
		default:
			return fmt.Errorf("%w: sht3x command 0x%04x", ErrNACK, cmd)
		}
	} else if len(w) != 0 {
		return fmt.Errorf("%w: sht3x %d-byte write", ErrNACK, len(w))
	}
	if len(r) > 0 {
		if d.pending == nil {
			return fmt.Errorf("%w: sht3x has no measurement ready", ErrNACK)
		}
		copy(r, d.pending)
		d.pending = nil
	}
	return nil
}

// crcSensirion is an independent implementation of the SHT3x CRC-8
// (polynomial 0x31, init 0xFF), table-free and bit-reversed from the driver's.
func crcSensirion(b []byte) byte {
	crc := 0xFF
	for _, x := range b {
		crc ^= int(x)
		for range 8 {
			crc <<= 1
			if crc&0x100 != 0 {
				crc ^= 0x131
			}
		}
	}
	return byte(crc)
}

// BH1750 is a simulated ROHM BH1750 reading env's "lux".
type BH1750 struct {
	mu   sync.Mutex
	env  *drift.Env
	on   bool
	mode byte
}

// NewBH1750 returns a simulated BH1750 (powered down).
func NewBH1750(env *drift.Env) *BH1750 { return &BH1750{env: env} }

func (d *BH1750) Tx(w, r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range w {
		switch {
		case c == 0x00:
			d.on, d.mode = false, 0
		case c == 0x01:
			d.on = true
		case c == 0x07:
		case c >= 0x10 && c <= 0x23:
			d.on, d.mode = true, c
		default:
			return fmt.Errorf("%w: bh1750 opcode 0x%02x", ErrNACK, c)
		}
	}
	if len(r) > 0 {
		if !d.on || d.mode == 0 {
			return fmt.Errorf("%w: bh1750 not measuring", ErrNACK)
		}
		raw := math.Min(65535, math.Round(d.env.Get("lux")*1.2))
		for i := range r {
			r[i] = byte(uint16(raw) >> (8 * (1 - i%2)))
		}
		if d.mode >= 0x20 { // one-time modes power down afterwards
			d.on, d.mode = false, 0
		}
	}
	return nil
}

package simhost

import (
	"fmt"
	"io/fs"
	"math"
	"path"
	"strings"
)

// ReadFile serves the simulated sysfs files.
func (b *Board) ReadFile(p string) ([]byte, error) {
	b.mu.Lock()
	f, ok := b.files[path.Clean(p)]
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return f()
}

// SetFile serves fixed content at p (replacing any generated file there);
// nil content removes the file.
func (b *Board) SetFile(p string, content []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p = path.Clean(p)
	if content == nil {
		delete(b.files, p)
		return
	}
	c := append([]byte(nil), content...)
	b.files[p] = func() ([]byte, error) { return append([]byte(nil), c...), nil }
}

// AddThermalZone serves p (e.g. /sys/class/thermal/thermal_zone0/temp) in
// millidegrees from the env quantity q.
func (b *Board) AddThermalZone(p, q string) {
	env := b.env
	b.mu.Lock()
	defer b.mu.Unlock()
	b.files[path.Clean(p)] = func() ([]byte, error) {
		return fmt.Appendf(nil, "%d\n", int(math.Round(env.Get(q)*1000))), nil
	}
}

// AddDS18B20 serves /sys/bus/w1/devices/<id>/w1_slave for a DS18B20 reading
// the env quantity q, formatted like the kernel's w1_therm driver.
func (b *Board) AddDS18B20(id, q string) {
	b.AddW1Slave(path.Join(W1Devices, id, "w1_slave"), q)
}

// W1Slave formats a w1_slave file for temperature t °C (12-bit resolution).
func W1Slave(t float64) []byte {
	raw := int16(math.Round(t * 16))
	sp := []byte{byte(raw), byte(raw >> 8), 0x4b, 0x46, 0x7f, 0xff, 0x0c, 0x10, 0}
	sp[8] = crcDallas(sp[:8])
	var hex strings.Builder
	for _, x := range sp {
		fmt.Fprintf(&hex, "%02x ", x)
	}
	h := hex.String()
	return fmt.Appendf(nil, "%s: crc=%02x YES\n%st=%d\n", h, sp[8], h, int(raw)*1000/16)
}

// crcDallas is the 1-Wire CRC-8 (x^8+x^5+x^4+1), written independently of
// the driver's: shift-register form, non-reflected polynomial on reversed bits.
func crcDallas(b []byte) byte {
	var crc byte
	for _, x := range b {
		for i := range 8 {
			bit := (x >> i) & 1
			fb := (crc & 1) ^ bit
			crc >>= 1
			if fb != 0 {
				crc ^= 0x8C
			}
		}
	}
	return crc
}

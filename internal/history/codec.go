package history

import (
	"encoding/binary"
	"errors"
	"math"
)

// A block is an encoded, immutable stretch of one tier of one series:
//
//	uvarint n (points), byte ncols
//	varint  t0 (unix ms); varint d1 = t1-t0; then varint (t[i]-t[i-1]) - (t[i-1]-t[i-2])
//	per column: byte e, then
//	  e <= maxExp: varint round(v0*10^e), then varint deltas of those integers
//	  e == rawExp: n × 8 bytes, the IEEE-754 bits little-endian
//
// Values are stored exactly: e is the smallest exponent at which every value
// of the column is an integer multiple of 10^-e (Store rounds readings to
// SigDigits significant digits first, so readings from real sensors, which
// have a few decimals, need one or two bytes each).
type block struct {
	first, last int64 // unix ms of the first and last point
	n           int
	data        []byte
}

const (
	maxExp = 15
	rawExp = 0xff
	// maxCols is the most value columns a block has (rollups: avg, min, max).
	maxCols = 3
)

var errCorrupt = errors.New("history: corrupt block")

// pow10 returns 10^e for 0 <= e <= maxExp (exact in float64).
func pow10(e int) float64 {
	p := 1.0
	for range e {
		p *= 10
	}
	return p
}

// exponent finds the smallest e such that every value is s/10^e for an
// integer s below 2^53, or rawExp.
func exponent(vals []float64) int {
	for e := 0; e <= maxExp; e++ {
		p := pow10(e)
		ok := true
		for _, v := range vals {
			s := math.Round(v * p)
			if math.Abs(s) >= 1<<53 || s/p != v {
				ok = false
				break
			}
		}
		if ok {
			return e
		}
	}
	return rawExp
}

// encodeBlock encodes times (ascending) and ncols columns of the same length.
func encodeBlock(times []int64, cols ...[]float64) block {
	n := len(times)
	buf := make([]byte, 0, 8+n*(1+2*len(cols)))
	buf = binary.AppendUvarint(buf, uint64(n))
	buf = append(buf, byte(len(cols)))
	var prev, prevD int64
	for i, t := range times {
		switch i {
		case 0:
			buf = binary.AppendVarint(buf, t)
		default:
			d := t - prev
			if i == 1 {
				buf = binary.AppendVarint(buf, d)
			} else {
				buf = binary.AppendVarint(buf, d-prevD)
			}
			prevD = d
		}
		prev = t
	}
	for _, col := range cols {
		e := exponent(col)
		buf = append(buf, byte(e))
		if e == rawExp {
			for _, v := range col {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
			}
			continue
		}
		p := pow10(e)
		var ps int64
		for i, v := range col {
			s := int64(math.Round(v * p))
			if i == 0 {
				buf = binary.AppendVarint(buf, s)
			} else {
				buf = binary.AppendVarint(buf, s-ps)
			}
			ps = s
		}
	}
	b := block{n: n, data: buf}
	if n > 0 {
		b.first, b.last = times[0], times[n-1]
	}
	return b
}

// decodeBlock decodes data into times and ncols columns. It never panics on
// hostile input, and allocates at most in proportion to len(data).
func decodeBlock(data []byte) (times []int64, cols [][]float64, err error) {
	r := reader{b: data}
	n64 := r.uvarint()
	nc := int(r.byte())
	if r.err != nil || nc > maxCols || n64 > uint64(len(data)) {
		return nil, nil, errCorrupt
	}
	n := int(n64)
	times = make([]int64, n)
	var prev, d int64
	for i := range n {
		v := r.varint()
		switch i {
		case 0:
			prev = v
		case 1:
			d = v
			prev += d
		default:
			d += v
			prev += d
		}
		times[i] = prev
	}
	cols = make([][]float64, nc)
	for c := range nc {
		e := int(r.byte())
		col := make([]float64, n)
		switch {
		case r.err != nil:
		case e == rawExp:
			for i := range n {
				col[i] = math.Float64frombits(r.uint64())
			}
		case e <= maxExp:
			p := pow10(e)
			var s int64
			for i := range n {
				if i == 0 {
					s = r.varint()
				} else {
					s += r.varint()
				}
				col[i] = float64(s) / p
			}
		default:
			return nil, nil, errCorrupt
		}
		cols[c] = col
	}
	if r.err != nil {
		return nil, nil, errCorrupt
	}
	for i := 1; i < n; i++ {
		if times[i] <= times[i-1] {
			return nil, nil, errCorrupt
		}
	}
	return times, cols, nil
}

// reader reads varints from a byte slice, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *reader) varint() int64 {
	v, k := binary.Varint(r.b)
	if k <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uint64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// round rounds v to sig significant digits (sig <= 0: unchanged), so that
// the codec stores it with a small exponent.
func round(v float64, sig int) float64 {
	if sig <= 0 || v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	e := sig - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	switch {
	case e > maxExp:
		e = maxExp
	case e < 0:
		q := pow10(min(-e, maxExp))
		return math.Round(v/q) * q
	}
	p := pow10(e)
	return math.Round(v*p) / p
}

// quantize rounds v to a multiple of res (res <= 0: unchanged) with a
// decimal exponent, so 0.1 stays exactly 0.1 and not 0.1000000001.
func quantize(v, res float64) float64 {
	if res <= 0 {
		return v
	}
	e := int(math.Ceil(-math.Log10(res) - 1e-9))
	if e < 0 || e > maxExp {
		return math.Round(v/res) * res
	}
	p := pow10(e)
	steps := math.Round(v / res)
	return math.Round(steps*res*p) / p
}

package e2ee

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Mark is a sender salt's high-water mark, saved so that a restarted box
// keeps refusing envelopes it accepted before (Top == math.MaxUint64: a
// retired salt, refused entirely).
type Mark struct {
	Salt [SaltSize]byte
	Top  uint64
}

// Marks returns the high-water marks of the tracked salts (most recently
// used first) followed by the retired salts.
func (o *Opener) Marks() []Mark {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Mark, 0, len(o.senders)+len(o.retired))
	for el := o.lru.Front(); el != nil; el = el.Next() {
		salt := el.Value.([SaltSize]byte)
		s := o.senders[salt]
		top := s.top
		if s.hasFloor && (!s.seen || s.floor > top) {
			top = s.floor
		}
		if s.seen || s.hasFloor {
			out = append(out, Mark{Salt: salt, Top: top})
		}
	}
	for i := range o.ring {
		at := (o.ringAt + i) % len(o.ring)
		if salt := o.ring[at]; salt != ([SaltSize]byte{}) {
			out = append(out, Mark{Salt: salt, Top: math.MaxUint64})
		}
	}
	return out
}

// Restore loads marks saved by Marks: from a restored salt only counters
// above its mark open; a retired salt opens nothing. Restore marks within
// the bounds (the first MaxSalts tracked marks, the retired ones into the
// ring); call it before the first Open.
func (o *Opener) Restore(marks []Mark) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var active []Mark
	for _, m := range marks {
		if m.Top == math.MaxUint64 {
			if _, dup := o.retired[m.Salt]; !dup {
				o.retire(m.Salt)
			}
			continue
		}
		active = append(active, m)
	}
	if len(active) > o.max {
		active = active[:o.max]
	}
	for i := len(active) - 1; i >= 0; i-- { // oldest first, so the LRU order survives
		m := active[i]
		if _, gone := o.retired[m.Salt]; gone || o.senders[m.Salt] != nil {
			continue
		}
		s := o.add(m.Salt, nil)
		s.floor, s.hasFloor = m.Top, true
	}
}

type markFile struct {
	V     int        `json:"v"`
	Marks []markJSON `json:"marks"`
}

type markJSON struct {
	S string `json:"s"`
	N uint64 `json:"n"`
}

// EncodeMarks serialises marks (the replay state file).
func EncodeMarks(marks []Mark) []byte {
	f := markFile{V: 1, Marks: make([]markJSON, len(marks))}
	for i, m := range marks {
		f.Marks[i] = markJSON{S: base64.StdEncoding.EncodeToString(m.Salt[:]), N: m.Top}
	}
	b, _ := json.Marshal(f) // cannot fail: strings and integers
	return append(b, '\n')
}

// ErrBadMarks is returned for a replay state file that cannot be read.
var ErrBadMarks = errors.New("e2ee: unreadable replay state")

// DecodeMarks parses EncodeMarks' output.
func DecodeMarks(b []byte) ([]Mark, error) {
	var f markFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMarks, err)
	}
	if f.V != 1 {
		return nil, fmt.Errorf("%w: version %d", ErrBadMarks, f.V)
	}
	out := make([]Mark, 0, len(f.Marks))
	for i, m := range f.Marks {
		salt, err := base64.StdEncoding.Strict().DecodeString(m.S)
		if err != nil || len(salt) != SaltSize {
			return nil, fmt.Errorf("%w: mark %d: bad salt", ErrBadMarks, i)
		}
		var mk Mark
		copy(mk.Salt[:], salt)
		mk.Top = m.N
		out = append(out, mk)
	}
	return out, nil
}

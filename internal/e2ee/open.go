package e2ee

import (
	"container/list"
	"crypto/cipher"
	"errors"
	"sync"
)

// ErrAuth is returned for an envelope that does not open with the key: a
// wrong key, another info label, or a tampered salt, counter or ciphertext.
var ErrAuth = errors.New("e2ee: envelope does not open with the room key")

// ErrReplay is returned for an authentic envelope whose counter was seen
// already, is older than the reordering window, or whose salt was retired.
var ErrReplay = errors.New("e2ee: replayed or stale envelope")

// WindowSize is the reordering window: an unseen counter up to 63 below
// the highest seen for its salt is still accepted.
const WindowSize = 64

// Default bounds of an Opener.
const (
	DefaultMaxSalts = 256
	DefaultRetired  = 4096
)

// OpenerOptions bound an Opener's memory.
type OpenerOptions struct {
	// MaxSalts is how many sender salts are tracked (DefaultMaxSalts when
	// <= 0). Past it the least recently used salt is retired.
	MaxSalts int
	// Retired is how many retired salts are remembered (DefaultRetired
	// when <= 0); envelopes under a remembered retired salt are refused.
	Retired int
}

// Opener opens envelopes sealed under one key and info label and refuses
// replays. It is safe for concurrent use.
type Opener struct {
	key  Key
	info string
	max  int

	mu      sync.Mutex
	senders map[[SaltSize]byte]*sender
	lru     list.List // of [SaltSize]byte, most recent at the front
	retired map[[SaltSize]byte]struct{}
	ring    [][SaltSize]byte
	ringAt  int
}

type sender struct {
	aead cipher.AEAD
	elem *list.Element
	seen bool
	top  uint64 // highest counter accepted
	bits uint64 // bit i: counter top-i accepted
	// floor: counters <= floor are refused (restored state, see Restore).
	floor    uint64
	hasFloor bool
}

// NewOpener returns an Opener for key and info.
func NewOpener(key Key, info string, o OpenerOptions) *Opener {
	if o.MaxSalts <= 0 {
		o.MaxSalts = DefaultMaxSalts
	}
	if o.Retired <= 0 {
		o.Retired = DefaultRetired
	}
	return &Opener{
		key:     key,
		info:    info,
		max:     o.MaxSalts,
		senders: make(map[[SaltSize]byte]*sender),
		retired: make(map[[SaltSize]byte]struct{}),
		ring:    make([][SaltSize]byte, o.Retired),
	}
}

// Open parses, authenticates and replay-checks raw and returns the
// plaintext. Errors: ErrNotEnvelope, ErrMalformed, ErrAuth, ErrReplay.
func (o *Opener) Open(raw []byte) ([]byte, error) {
	e, err := ParseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	return o.OpenEnvelope(e)
}

// OpenEnvelope authenticates and replay-checks a parsed envelope. Only an
// authentic envelope changes the Opener's state.
func (o *Opener) OpenEnvelope(e Envelope) ([]byte, error) {
	o.mu.Lock()
	if _, gone := o.retired[e.Salt]; gone {
		o.mu.Unlock()
		return nil, ErrReplay
	}
	var aead cipher.AEAD
	if s := o.senders[e.Salt]; s != nil {
		aead = s.aead       // nil for a restored mark
		if s.refuses(e.N) { // cheap early refusal; checked again below
			o.mu.Unlock()
			return nil, ErrReplay
		}
	}
	o.mu.Unlock()
	if aead == nil {
		a, err := newAEAD(o.key, e.Salt[:], o.info)
		if err != nil {
			return nil, err
		}
		aead = a
	}
	pt, err := aead.Open(nil, nonce(e.N), e.CT, nil)
	if err != nil {
		return nil, ErrAuth
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, gone := o.retired[e.Salt]; gone {
		return nil, ErrReplay
	}
	s := o.senders[e.Salt]
	if s == nil {
		s = o.add(e.Salt, aead)
	} else {
		o.lru.MoveToFront(s.elem)
		if s.aead == nil {
			s.aead = aead
		}
	}
	if !s.accept(e.N) {
		return nil, ErrReplay
	}
	return pt, nil
}

// add tracks a new salt (o.mu held), retiring the least recently used one
// when full.
func (o *Opener) add(salt [SaltSize]byte, aead cipher.AEAD) *sender {
	for len(o.senders) >= o.max {
		back := o.lru.Back()
		old := back.Value.([SaltSize]byte)
		o.lru.Remove(back)
		delete(o.senders, old)
		o.retire(old)
	}
	s := &sender{aead: aead}
	s.elem = o.lru.PushFront(salt)
	o.senders[salt] = s
	return s
}

func (o *Opener) retire(salt [SaltSize]byte) {
	if prev := o.ring[o.ringAt]; prev != ([SaltSize]byte{}) {
		delete(o.retired, prev)
	}
	o.ring[o.ringAt] = salt
	o.retired[salt] = struct{}{}
	o.ringAt = (o.ringAt + 1) % len(o.ring)
}

func (s *sender) refuses(n uint64) bool {
	if s.hasFloor && n <= s.floor {
		return true
	}
	if !s.seen || n > s.top {
		return false
	}
	d := s.top - n
	return d >= WindowSize || s.bits&(1<<d) != 0
}

// accept marks n seen; false when it was seen or is too old.
func (s *sender) accept(n uint64) bool {
	if s.refuses(n) {
		return false
	}
	switch {
	case !s.seen:
		s.seen, s.top, s.bits = true, n, 1
	case n > s.top:
		if shift := n - s.top; shift >= WindowSize {
			s.bits = 1
		} else {
			s.bits = s.bits<<shift | 1
		}
		s.top = n
	default:
		s.bits |= 1 << (s.top - n)
	}
	return true
}

// Tracked returns how many salts are tracked and how many retired ones are
// remembered.
func (o *Opener) Tracked() (active, retired int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.senders), len(o.retired)
}

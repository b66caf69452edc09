package e2ee

import (
	"encoding/json"
	"errors"
	"io"
)

// ErrOwn is returned by Room.Open for an envelope under the room's own
// session salt (its own broadcast echoed back by the relay).
var ErrOwn = errors.New("e2ee: own envelope")

// Room is one member's view of an encrypted room ("grp v2"): it seals under
// a fresh per-session salt and opens everyone else's envelopes with replay
// protection. It is safe for concurrent use.
type Room struct {
	key Key
	*Sealer
	opener *Opener
}

// NewRoom makes a room session for key with a fresh salt from r
// (crypto/rand.Reader when nil).
func NewRoom(key Key, r io.Reader, o OpenerOptions) (*Room, error) {
	s, err := NewSealer(key, InfoRoom, r)
	if err != nil {
		return nil, err
	}
	return &Room{key: key, Sealer: s, opener: NewOpener(key, InfoRoom, o)}, nil
}

// Key returns the room key.
func (r *Room) Key() Key { return r.key }

// Opener returns the room's opener (for its replay state).
func (r *Room) Opener() *Opener { return r.opener }

// Open opens a payload sealed by another member. Errors: ErrNotEnvelope
// (plaintext), ErrMalformed, ErrOwn, ErrAuth (wrong key), ErrReplay.
func (r *Room) Open(raw json.RawMessage) (json.RawMessage, error) {
	e, err := ParseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	if e.Salt == r.Salt() {
		return nil, ErrOwn
	}
	return r.opener.OpenEnvelope(e)
}

package e2ee

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// ErrExhausted is returned once a Sealer has used every counter value.
var ErrExhausted = errors.New("e2ee: sealer counter exhausted")

// Sealer seals payloads under one per-session salt with an incrementing
// counter starting at 0. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
	salt [SaltSize]byte

	mu   sync.Mutex
	next uint64
	done bool
}

// NewSealer draws a fresh 16-byte salt from r (crypto/rand.Reader when nil)
// and derives the session key for info.
func NewSealer(key Key, info string, r io.Reader) (*Sealer, error) {
	if r == nil {
		r = rand.Reader
	}
	s := &Sealer{}
	if _, err := io.ReadFull(r, s.salt[:]); err != nil {
		return nil, fmt.Errorf("e2ee: session salt: %w", err)
	}
	aead, err := newAEAD(key, s.salt[:], info)
	if err != nil {
		return nil, err
	}
	s.aead = aead
	return s, nil
}

// Salt returns the session salt.
func (s *Sealer) Salt() [SaltSize]byte { return s.salt }

func (s *Sealer) take() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return 0, ErrExhausted
	}
	n := s.next
	if n == math.MaxUint64 {
		s.done = true
	} else {
		s.next++
	}
	return n, nil
}

// SealEnvelope seals plaintext (which should be compact JSON) with the next
// counter value.
func (s *Sealer) SealEnvelope(plaintext []byte) (Envelope, error) {
	n, err := s.take()
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{Salt: s.salt, N: n, CT: s.aead.Seal(nil, nonce(n), plaintext, nil)}, nil
}

// Seal seals plaintext and returns the envelope's JSON.
func (s *Sealer) Seal(plaintext []byte) (json.RawMessage, error) {
	e, err := s.SealEnvelope(plaintext)
	if err != nil {
		return nil, err
	}
	return e.AppendJSON(nil), nil
}

// SealJSON marshals v as compact JSON (a json.RawMessage or []byte is
// compacted as is) and seals it.
func (s *Sealer) SealJSON(v any) (json.RawMessage, error) {
	pt, err := Compact(v)
	if err != nil {
		return nil, err
	}
	return s.Seal(pt)
}

// Compact returns v as compact JSON: raw JSON (json.RawMessage or []byte)
// is compacted, anything else is marshalled. HTML characters are not
// escaped, like the reference implementation's json.dumps.
func Compact(v any) ([]byte, error) {
	var raw []byte
	switch t := v.(type) {
	case json.RawMessage:
		raw = t
	case []byte:
		raw = t
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("e2ee: marshal payload: %w", err)
		}
		raw = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		return raw, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("e2ee: payload is not JSON: %w", err)
	}
	return buf.Bytes(), nil
}

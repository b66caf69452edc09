package e2ee

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
)

// Version is the envelope's "e2ee" value.
const Version = 2

// SaltSize is the size of a per-session salt in bytes.
const SaltSize = 16

// TagSize is the Poly1305 tag at the end of every ciphertext.
const TagSize = 16

// Envelope is a parsed v2 envelope.
type Envelope struct {
	Salt [SaltSize]byte
	N    uint64
	CT   []byte // ciphertext followed by the 16-byte tag
}

// ErrNotEnvelope is returned for a payload that is not a v2 envelope at all
// (no "e2ee": 2): plaintext, or an older version.
var ErrNotEnvelope = errors.New("e2ee: not a v2 envelope")

// ErrMalformed is returned for a v2 envelope whose fields are unusable.
var ErrMalformed = errors.New("e2ee: malformed v2 envelope")

// IsEnvelope reports whether raw is a JSON object carrying "e2ee": 2 (it
// says nothing about the other fields; ParseEnvelope checks them).
func IsEnvelope(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' || !bytes.Contains(raw, []byte(`"e2ee"`)) {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	return isVersion(m["e2ee"])
}

func isVersion(raw json.RawMessage) bool {
	if len(raw) == 0 || raw[0] == '"' {
		return false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return err == nil && f == Version
}

// ParseEnvelope parses a v2 envelope: a JSON object with "e2ee" equal to 2,
// "s" the standard base64 of 16 bytes, "n" a non-negative integer that fits
// 64 bits and "ct" the standard base64 of at least the 16-byte tag. Field
// names are matched exactly; unknown fields are ignored.
func ParseEnvelope(raw []byte) (Envelope, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Envelope{}, ErrNotEnvelope
	}
	if !isVersion(m["e2ee"]) {
		return Envelope{}, ErrNotEnvelope
	}
	var e Envelope
	salt, ok := b64Field(m["s"])
	if !ok || len(salt) != SaltSize {
		return Envelope{}, ErrMalformed
	}
	copy(e.Salt[:], salt)
	n, ok := counterField(m["n"])
	if !ok {
		return Envelope{}, ErrMalformed
	}
	e.N = n
	ct, ok := b64Field(m["ct"])
	if !ok || len(ct) < TagSize {
		return Envelope{}, ErrMalformed
	}
	e.CT = ct
	return e, nil
}

func b64Field(raw json.RawMessage) ([]byte, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return nil, false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

// counterField accepts a plain JSON integer (digits only: no sign,
// fraction or exponent) that fits in 64 bits.
func counterField(raw json.RawMessage) (uint64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	return n, err == nil
}

// AppendJSON appends the envelope in the reference implementation's form:
// {"e2ee":2,"s":"…","n":…,"ct":"…"}.
func (e Envelope) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"e2ee":2,"s":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, e.Salt[:])
	dst = append(dst, `","n":`...)
	dst = strconv.AppendUint(dst, e.N, 10)
	dst = append(dst, `,"ct":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, e.CT)
	return append(dst, `"}`...)
}

// MarshalJSON implements json.Marshaler with AppendJSON's form.
func (e Envelope) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

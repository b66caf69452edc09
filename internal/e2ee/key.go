package e2ee

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeySize is the size of a room key in bytes.
const KeySize = 32

// Key is a room key (the layout's e2eeKey, the pairing QR's k).
type Key [KeySize]byte

// ErrBadKey is returned for a key that is not 32 bytes of standard base64.
var ErrBadKey = errors.New("e2ee: key must be 32 bytes in standard base64")

// GenerateKey draws a fresh key from r (crypto/rand.Reader when nil).
func GenerateKey(r io.Reader) (Key, error) {
	if r == nil {
		r = rand.Reader
	}
	var k Key
	if _, err := io.ReadFull(r, k[:]); err != nil {
		return Key{}, fmt.Errorf("e2ee: generate key: %w", err)
	}
	return k, nil
}

// ParseKey decodes a base64 key (standard alphabet, padding optional;
// surrounding white space is ignored, so a key file may end in a newline).
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != KeySize {
		return Key{}, ErrBadKey
	}
	var k Key
	copy(k[:], b)
	return k, nil
}

// String returns the key in standard base64 with padding (the form the app
// and carterkit exchange).
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// IsZero reports whether k is all zero bytes (an unset key).
func (k Key) IsZero() bool { return k == Key{} }

package e2ee

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// The HKDF info labels of the v2 construction.
const (
	InfoRoom       = "grp v2" // room mode: every member seals and opens with it
	InfoDeviceSide = "d2c v2" // directional mode: the device (hub) seals with it
	InfoPhoneSide  = "c2d v2" // directional mode: the phone seals with it
)

// DeriveKey returns HKDF-SHA256(secret, salt, info) truncated to 32 bytes,
// the per-session sealing key.
func DeriveKey(secret Key, salt []byte, info string) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, secret[:], salt, info, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("e2ee: hkdf: %w", err)
	}
	return k, nil
}

func newAEAD(secret Key, salt []byte, info string) (cipher.AEAD, error) {
	k, err := DeriveKey(secret, salt, info)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.New(k)
}

// nonce is 4 zero bytes followed by the counter, big-endian.
func nonce(n uint64) []byte {
	var b [chacha20poly1305.NonceSize]byte
	binary.BigEndian.PutUint64(b[4:], n)
	return b[:]
}

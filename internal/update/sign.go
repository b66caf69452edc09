package update

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Signed updates. A box whose public key file exists (DefaultKeyFile,
// installed by scripts/flash.sh) installs only binaries signed with the
// matching private key (meshbox keygen, meshbox sign, make build-arm).
//
// File formats (one line each, ASCII, a trailing newline is optional):
//
//	private key  (0600)  meshbox-update-key-v1 BASE64(32-byte ed25519 seed)
//	public key           meshbox-update-pub-v1 BASE64(32-byte ed25519 public key)
//	signature (FILE.sig) meshbox-sig-v1 KEYID BASE64(64-byte signature)
//
// KEYID is the first 8 bytes, in hex, of the SHA-256 of the public key.
// The signature is Ed25519ph (RFC 8032: crypto/ed25519 with SHA-512
// pre-hashing) over the SHA-512 of the binary's bytes, with the context
// string SignatureContext, so a signature made for anything else never
// verifies as a meshbox update.
const (
	keyPrefix        = "meshbox-update-key-v1"
	pubPrefix        = "meshbox-update-pub-v1"
	sigPrefix        = "meshbox-sig-v1"
	SignatureContext = "meshbox-update-v1"
	// DefaultKeyFile is where a box looks for its update public key
	// (outside the state directory, read-only to the service).
	DefaultKeyFile = "/etc/meshbox/update.pub"
	// SignatureHeader carries the signature line in POST /update.
	SignatureHeader = "X-Meshbox-Signature"
	maxKeyFile      = 4 << 10
)

// ErrSignature: the binary is unsigned, mis-signed or signed with another
// key than the box trusts. It wraps ErrVerify.
var ErrSignature = fmt.Errorf("%w: signature", ErrVerify)

// Signature is a parsed signature line.
type Signature struct {
	KeyID string // 16 hex digits
	Sig   []byte // 64 bytes
}

// String is the signature line (without a newline).
func (s Signature) String() string {
	return sigPrefix + " " + s.KeyID + " " + base64.StdEncoding.EncodeToString(s.Sig)
}

// KeyID names a public key in signatures and messages.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// ParseSignature parses a signature line (a FILE.sig or the
// X-Meshbox-Signature header).
func ParseSignature(line string) (Signature, error) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != sigPrefix {
		return Signature{}, fmt.Errorf("%w: not a meshbox signature (want %q KEYID BASE64)", ErrSignature, sigPrefix)
	}
	if len(f[1]) != 16 {
		return Signature{}, fmt.Errorf("%w: key id %q is not 16 hex digits", ErrSignature, clip(f[1]))
	}
	if _, err := hex.DecodeString(f[1]); err != nil {
		return Signature{}, fmt.Errorf("%w: key id %q is not 16 hex digits", ErrSignature, clip(f[1]))
	}
	sig, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Signature{}, fmt.Errorf("%w: the signature is not %d bytes of base64", ErrSignature, ed25519.SignatureSize)
	}
	return Signature{KeyID: strings.ToLower(f[1]), Sig: sig}, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func signOptions() *ed25519.Options {
	return &ed25519.Options{Hash: crypto.SHA512, Context: SignatureContext}
}

// VerifySignature checks sig over a binary whose SHA-512 is digest.
func VerifySignature(pub ed25519.PublicKey, sig Signature, digest []byte) error {
	if want := KeyID(pub); sig.KeyID != want {
		return fmt.Errorf("%w: signed with key %s, this box trusts key %s", ErrSignature, sig.KeyID, want)
	}
	if err := ed25519.VerifyWithOptions(pub, digest, sig.Sig, signOptions()); err != nil {
		return fmt.Errorf("%w: does not verify with key %s (the binary was changed after signing, or the signature is for another file)", ErrSignature, sig.KeyID)
	}
	return nil
}

// Sign signs the binary read from r.
func Sign(priv ed25519.PrivateKey, r io.Reader) (Signature, error) {
	h := sha512.New()
	if _, err := io.Copy(h, r); err != nil {
		return Signature{}, err
	}
	sig, err := priv.Sign(nil, h.Sum(nil), signOptions())
	if err != nil {
		return Signature{}, err
	}
	return Signature{KeyID: KeyID(priv.Public().(ed25519.PublicKey)), Sig: sig}, nil
}

// GenerateKey makes a key pair from rand (crypto/rand.Reader).
func GenerateKey(rand io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand)
}

// MarshalPrivateKey is the private key file's content.
func MarshalPrivateKey(priv ed25519.PrivateKey) []byte {
	return []byte(keyPrefix + " " + base64.StdEncoding.EncodeToString(priv.Seed()) + "\n")
}

// MarshalPublicKey is the public key file's content.
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	return []byte(pubPrefix + " " + base64.StdEncoding.EncodeToString(pub) + "\n")
}

func parseKeyLine(b []byte, prefix string, size int) ([]byte, error) {
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] != prefix {
		return nil, fmt.Errorf("not a %s file", prefix)
	}
	raw, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || len(raw) != size {
		return nil, fmt.Errorf("%s: the key is not %d bytes of base64", prefix, size)
	}
	return raw, nil
}

// ParsePublicKey parses a public key file's content.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	raw, err := parseKeyLine(b, pubPrefix, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// ParsePrivateKey parses a private key file's content.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	raw, err := parseKeyLine(b, keyPrefix, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(raw), nil
}

// LoadPublicKey reads a public key file. A missing file returns an error
// that errors.Is(err, os.ErrNotExist) (the box accepts unsigned updates).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	pub, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// LoadPrivateKey reads a private key file; one readable by group or
// others is refused.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: private key is readable by others (mode %04o): chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	priv, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return priv, nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s: more than %d bytes: not a key file", path, maxKeyFile)
	}
	return b, nil
}

// WriteKeyPair writes priv to keyPath (0600, never over an existing file)
// and its public key to keyPath's ".pub" sibling (0644).
func WriteKeyPair(keyPath string, pub ed25519.PublicKey, priv ed25519.PrivateKey) (pubPath string, err error) {
	pubPath = strings.TrimSuffix(keyPath, ".key") + ".pub"
	if pubPath == keyPath {
		return "", errors.New("the key file name must not end in .pub")
	}
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", fmt.Errorf("%s exists: not overwriting a key (remove it first, or choose another -out)", p)
		}
	}
	if err := writeNew(keyPath, MarshalPrivateKey(priv), 0o600); err != nil {
		return "", err
	}
	if err := writeNew(pubPath, MarshalPublicKey(pub), 0o644); err != nil {
		os.Remove(keyPath)
		return "", err
	}
	return pubPath, nil
}

func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil { // whatever the umask
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

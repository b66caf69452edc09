package update

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSignVerify(t *testing.T) {
	pub, priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bin := []byte("\x7fELF pretend binary")
	sig, err := Sign(priv, bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	line := sig.String()
	if !strings.HasPrefix(line, "meshbox-sig-v1 "+KeyID(pub)+" ") || strings.Contains(line, "\n") {
		t.Fatalf("signature line %q", line)
	}
	parsed, err := ParseSignature(line + "\n")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha512.Sum512(bin)
	if err := VerifySignature(pub, parsed, digest[:]); err != nil {
		t.Fatalf("a good signature does not verify: %v", err)
	}
	other := sha512.Sum512(append(bin, 0))
	if err := VerifySignature(pub, parsed, other[:]); !errors.Is(err, ErrSignature) || !errors.Is(err, ErrVerify) {
		t.Fatalf("a signature for other bytes: %v, want ErrSignature", err)
	}
	pub2, _, _ := GenerateKey(rand.Reader)
	if err := VerifySignature(pub2, parsed, digest[:]); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "this box trusts key") {
		t.Fatalf("another key: %v", err)
	}
	// Same key id, forged bytes.
	forged := parsed
	forged.Sig = bytes.Clone(parsed.Sig)
	forged.Sig[10] ^= 1
	if err := VerifySignature(pub, forged, digest[:]); !errors.Is(err, ErrSignature) {
		t.Fatalf("a flipped bit verifies: %v", err)
	}
	for _, bad := range []string{"", "meshbox-sig-v1", "meshbox-sig-v2 0011223344556677 AAAA", "meshbox-sig-v1 zz11223344556677 " + strings.Repeat("A", 88),
		"meshbox-sig-v1 0011223344556677 AAAA", "meshbox-sig-v1 0011 " + strings.Repeat("A", 88)} {
		if _, err := ParseSignature(bad); !errors.Is(err, ErrSignature) {
			t.Errorf("ParseSignature(%q) = %v, want ErrSignature", bad, err)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	pub, priv, _ := GenerateKey(rand.Reader)
	keyPath := filepath.Join(dir, "update.key")
	pubPath, err := WriteKeyPair(keyPath, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	if pubPath != filepath.Join(dir, "update.pub") {
		t.Fatalf("public key at %s", pubPath)
	}
	st, _ := os.Stat(keyPath)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %04o, want 0600", st.Mode().Perm())
	}
	gotPriv, err := LoadPrivateKey(keyPath)
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("LoadPrivateKey: %v", err)
	}
	gotPub, err := LoadPublicKey(pubPath)
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("LoadPublicKey: %v", err)
	}
	if _, err := WriteKeyPair(keyPath, pub, priv); err == nil || !strings.Contains(err.Error(), "not overwriting") {
		t.Fatalf("second keygen over the same file: %v", err)
	}
	os.Chmod(keyPath, 0o644)
	if _, err := LoadPrivateKey(keyPath); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable private key was loaded: %v", err)
	}
	if _, err := LoadPublicKey(filepath.Join(dir, "none.pub")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := ParsePublicKey(MarshalPrivateKey(priv)); err == nil {
		t.Fatal("a private key file parsed as a public key")
	}
}

// FuzzParseSignature: a signature line comes from the network (the
// X-Meshbox-Signature header); whatever it is, parsing never panics and
// anything accepted round-trips and never verifies for a random key.
func FuzzParseSignature(f *testing.F) {
	pub, priv, _ := GenerateKey(rand.Reader)
	sig, _ := Sign(priv, strings.NewReader("x"))
	f.Add(sig.String())
	f.Add("meshbox-sig-v1 0011223344556677 " + strings.Repeat("A", 86) + "==")
	f.Add("meshbox-sig-v1  \t x y")
	f.Add("")
	f.Fuzz(func(t *testing.T, line string) {
		s, err := ParseSignature(line)
		if err != nil {
			if !errors.Is(err, ErrSignature) {
				t.Fatalf("error %v is not ErrSignature", err)
			}
			return
		}
		again, err := ParseSignature(s.String())
		if err != nil || again.KeyID != s.KeyID || !bytes.Equal(again.Sig, s.Sig) {
			t.Fatalf("round trip: %+v %v", again, err)
		}
		d := sha512.Sum512([]byte("y"))
		if VerifySignature(pub, s, d[:]) == nil {
			t.Fatal("a fuzzed signature verified")
		}
	})
}

// FuzzParseKey: key files are read from disk; never panic.
func FuzzParseKey(f *testing.F) {
	pub, priv, _ := GenerateKey(rand.Reader)
	f.Add(MarshalPublicKey(pub))
	f.Add(MarshalPrivateKey(priv))
	f.Add([]byte("meshbox-update-pub-v1 ====\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := ParsePublicKey(b); err == nil && len(k) != 32 {
			t.Fatalf("public key of %d bytes", len(k))
		}
		if k, err := ParsePrivateKey(b); err == nil && len(k) != 64 {
			t.Fatalf("private key of %d bytes", len(k))
		}
	})
}

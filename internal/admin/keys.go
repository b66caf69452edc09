package admin

// "meshbox keygen" and "meshbox sign": the key pair and signatures of
// signed updates (internal/update/sign.go has the formats).

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/meshbox/meshbox/internal/cli"
	"github.com/meshbox/meshbox/internal/update"
)

// defaultSigningKey is where keygen writes and sign reads the private key:
// $MESHBOX_SIGNING_KEY, else ~/.config/meshbox/update.key.
func defaultSigningKey(env cli.IO) string {
	if env.Getenv != nil {
		if k := env.Getenv("MESHBOX_SIGNING_KEY"); k != "" {
			return k
		}
	}
	home, err := os.UserHomeDir()
	if env.Getenv != nil && env.Getenv("HOME") != "" {
		home, err = env.Getenv("HOME"), nil
	}
	if err != nil {
		return "update.key"
	}
	return filepath.Join(home, ".config", "meshbox", "update.key")
}

// Keygen writes a new update signing key pair: the private key (0600)
// stays with whoever builds releases; the public key goes on the boxes
// (scripts/flash.sh --update-key, or /etc/meshbox/update.pub by hand).
func Keygen(_ context.Context, env cli.IO, args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	out := fs.String("out", defaultSigningKey(env), "private key `file` to write (its public key goes next to it as NAME.pub)")
	if err := parseFlags(env, fs, args, "usage: meshbox keygen [-out FILE.key]"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 0 {
		return usageErr("keygen takes no arguments (meshbox keygen -h for help)")
	}
	if filepath.Ext(*out) != ".key" {
		return usageErr(fmt.Sprintf("keygen: -out %s: the private key file name must end in .key", *out))
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o700); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	pub, priv, err := update.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	pubPath, err := update.WriteKeyPair(*out, pub, priv)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	fmt.Fprintf(env.Stdout, "wrote the private key %s (mode 0600: keep it secret, keep a backup)\n", *out)
	fmt.Fprintf(env.Stdout, "wrote the public key  %s (key id %s)\n", pubPath, update.KeyID(pub))
	fmt.Fprintln(env.Stdout, "boxes flashed with scripts/flash.sh --update-key "+pubPath+" install only binaries signed with it;")
	fmt.Fprintln(env.Stdout, "make build-arm signs dist/ with "+*out+" (SIGNING_KEY=...), or: meshbox sign -key "+*out+" FILE")
	return nil
}

// Sign writes FILE.sig for each FILE.
func Sign(_ context.Context, env cli.IO, args []string) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	key := fs.String("key", defaultSigningKey(env), "private key `file` (meshbox keygen)")
	if err := parseFlags(env, fs, args, "usage: meshbox sign [-key FILE.key] BINARY..."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() == 0 {
		return usageErr("sign: give the binaries to sign (meshbox sign -h for help)")
	}
	priv, err := update.LoadPrivateKey(*key)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	for _, bin := range fs.Args() {
		f, err := os.Open(bin)
		if err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		sig, err := update.Sign(priv, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("sign %s: %w", bin, err)
		}
		if err := os.WriteFile(bin+".sig", []byte(sig.String()+"\n"), 0o644); err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		fmt.Fprintf(env.Stdout, "signed %s -> %s.sig (key %s)\n", bin, bin, sig.KeyID)
	}
	return nil
}

package main

// Owned by the pairing engineer: "meshbox qr".

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshbox/meshbox/internal/box"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/e2ee"
	"github.com/meshbox/meshbox/internal/pairing"
)

// qrCmd prints the pairing QR (the §15.1 JSON) to the console again, with
// the page address and the token, and optionally writes it as a PNG. It
// reads the same token sources as serve: MESH_AUTH_TOKEN, the config's
// token, then the token serve generated in the state directory.
func qrCmd(_ context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("qr", flag.ContinueOnError)
	path := fs.String("config", config.DefaultPath, "config file (the built-in demo when the default file is missing)")
	pngFile := fs.String("png", "", "also write the QR code as a PNG image to `FILE`")
	listen := fs.String("listen", "", "listen address of the running box (default: the config's, :8765)")
	invert := fs.Bool("invert", false, "draw dark modules (for terminals with a light background)")
	if err := parseFlags(env, fs, args, "usage: meshbox qr [-config PATH] [-png FILE] [-listen ADDR] [-invert]"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("qr: unexpected argument %q", fs.Arg(0)))
	}
	cfg, err := loadConfigOrDemo(*path, *path == config.DefaultPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	token, err := qrToken(env.Getenv, cfg)
	if err != nil {
		return err
	}
	p, err := box.PairingPayload(cfg, token, pairing.Resolver{Logger: logger})
	if err != nil {
		return err
	}
	if p.K, err = qrKey(env.Getenv, cfg); err != nil {
		return err
	}
	q, err := pairing.NewQR(p.JSON())
	if err != nil {
		return err
	}
	printPairing(env, q, p, *invert)
	if w := box.LoopbackWarning(cfg, ""); w != "" {
		fmt.Fprintln(env.Stderr, "warning: "+w)
	}
	if *pngFile != "" {
		img, err := q.PNG(512)
		if err != nil {
			return err
		}
		// The image carries the token: readable by the owner only.
		if err := os.WriteFile(*pngFile, img, 0o600); err != nil {
			return fmt.Errorf("qr: %w", err)
		}
		fmt.Fprintf(env.Stdout, "wrote %s\n", *pngFile)
	}
	return nil
}

// printPairing writes the console QR, the payload and the page address.
func printPairing(env *Env, q *pairing.QR, p pairing.Payload, invert bool) {
	fmt.Fprint(env.Stdout, q.Text(invert))
	fmt.Fprintf(env.Stdout, "pairing: %s\n", p.JSON())
	fmt.Fprintf(env.Stdout, "page:    %s/\n", pairing.HTTPURL(p.URL))
	if p.Token != "" {
		fmt.Fprintf(env.Stdout, "token:   %s\n", p.Token)
	} else {
		fmt.Fprintln(env.Stdout, "token:   none (open relay)")
	}
	if p.K != "" {
		fmt.Fprintf(env.Stdout, "e2ee:    room key %s (end-to-end encrypted room)\n", p.K)
	}
}

// loadConfigOrDemo loads path; when the file is missing and optional (the
// default path), it returns the built-in demo.
func loadConfigOrDemo(path string, optional bool) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err == nil {
		return cfg, nil
	}
	if optional && errors.Is(err, fs.ErrNotExist) {
		return config.Demo(), nil
	}
	return nil, err
}

// qrToken reads the token serve uses, from the same sources in the same
// order (serve_state.go): none with auth: none; MESH_AUTH_TOKEN; the
// config's token; the token serve generated in its state directory
// (MESHBOX_STATE_DIR, state_dir, /var/lib/meshbox, then serve's fallbacks
// for a non-root run). Unlike serve it never generates one: a token the
// running box does not know would pair nobody.
func qrToken(getenv func(string) string, cfg *config.Config) (string, error) {
	switch {
	case strings.EqualFold(cfg.Auth, "none"):
		return "", nil
	case getenv("MESH_AUTH_TOKEN") != "":
		return getenv("MESH_AUTH_TOKEN"), nil
	case cfg.Token != "":
		return cfg.Token, nil
	}
	dirs := stateDirs(getenv, cfg)
	dir := dirs[0]
	var firstErr error
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, tokenFile))
		if err == nil && strings.TrimSpace(string(b)) != "" {
			return strings.TrimSpace(string(b)), nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = err
		}
	}
	if errors.Is(firstErr, fs.ErrPermission) {
		return "", fmt.Errorf("cannot read the box's token: %w (run as root or the meshbox user: sudo meshbox qr)", firstErr)
	}
	if firstErr != nil {
		return "", fmt.Errorf("read the box's token: %w", firstErr)
	}
	return "", fmt.Errorf("no token in %s yet: start meshbox once (it generates one), or set MESH_AUTH_TOKEN", filepath.Join(dir, tokenFile))
}

// qrKey reads the room key of an encrypted room (e2ee: true) from the
// state directory serve uses ("" when the room is not encrypted). Like
// qrToken it never generates one.
func qrKey(getenv func(string) string, cfg *config.Config) (string, error) {
	if !cfg.E2EE {
		return "", nil
	}
	var firstErr error
	for _, d := range stateDirs(getenv, cfg) {
		b, err := os.ReadFile(filepath.Join(d, e2ee.KeyFileName))
		if err == nil {
			k, perr := e2ee.ParseKey(string(b))
			if perr != nil {
				return "", fmt.Errorf("%s: %w", filepath.Join(d, e2ee.KeyFileName), perr)
			}
			return k.String(), nil
		}
		if !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = err
		}
	}
	if errors.Is(firstErr, fs.ErrPermission) {
		return "", fmt.Errorf("cannot read the box's room key: %w (run as root or the meshbox user: sudo meshbox qr)", firstErr)
	}
	if firstErr != nil {
		return "", fmt.Errorf("read the box's room key: %w", firstErr)
	}
	return "", fmt.Errorf("e2ee: true but no room key in the state directory yet: start meshbox once (it generates one)")
}

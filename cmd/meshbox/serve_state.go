package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshbox/meshbox/internal/atomicfile"
	"github.com/meshbox/meshbox/internal/config"
)

// tokenFile is the generated shared key inside the state directory.
const tokenFile = "token" // the name the pairing code (meshbox qr) reads

// resolveStateDir picks the state directory: MESHBOX_STATE_DIR, else the
// config's state_dir, else /var/lib/meshbox. When it is not writable (a
// laptop without root), it falls back to $XDG_STATE_HOME/meshbox or
// ~/.local/state/meshbox, with a log line.
func resolveStateDir(getenv func(string) string, cfg *config.Config, log *slog.Logger) string {
	dirs := stateDirs(getenv, cfg)
	if writableDir(dirs[0]) {
		return dirs[0]
	}
	if len(dirs) > 1 && writableDir(dirs[1]) {
		log.Warn("state directory not writable, using a fallback", "wanted", dirs[0], "using", dirs[1])
		return dirs[1]
	}
	log.Warn("no writable state directory; generated secrets will not persist", "wanted", dirs[0])
	return dirs[0]
}

// stateDirs lists where the state directory may be, in order: the wanted
// one (MESHBOX_STATE_DIR, the config's state_dir, /var/lib/meshbox), then
// the per-user fallback for a non-root run ($XDG_STATE_HOME/meshbox or
// ~/.local/state/meshbox). serve uses the first writable one; meshbox qr
// reads the token from the first that has it.
func stateDirs(getenv func(string) string, cfg *config.Config) []string {
	dir := getenv("MESHBOX_STATE_DIR")
	if dir == "" && cfg != nil {
		dir = cfg.StateDir
	}
	if dir == "" {
		dir = config.DefaultStateDir
	}
	dirs := []string{dir}
	if x := getenv("XDG_STATE_HOME"); x != "" {
		dirs = append(dirs, filepath.Join(x, "meshbox"))
	} else if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".local", "state", "meshbox"))
	}
	return dirs
}

// writableDir creates dir if needed and checks a file can be created in it.
func writableDir(dir string) bool {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return true
}

// resolveToken decides the relay's shared key: -open or auth: none ⇒ none
// (warned); else MESH_AUTH_TOKEN; else the config's token; else the one
// stored in the state directory, generated (mode 0600) on first start.
func resolveToken(getenv func(string) string, open bool, cfg *config.Config, stateDir string, log *slog.Logger) (token, source string, err error) {
	switch {
	case open:
		token, source = "", "-open"
	case cfg != nil && strings.EqualFold(cfg.Auth, "none"):
		token, source = "", "config auth: none"
	case getenv("MESH_AUTH_TOKEN") != "":
		token, source = getenv("MESH_AUTH_TOKEN"), "env MESH_AUTH_TOKEN"
	case cfg != nil && cfg.Token != "":
		token, source = cfg.Token, "config file"
	default:
		tok, created, err := loadOrCreateToken(filepath.Join(stateDir, tokenFile))
		if err != nil {
			return "", "", fmt.Errorf("auth token: %w (set MESH_AUTH_TOKEN, or use -open)", err)
		}
		token = tok
		source = "stored in " + filepath.Join(stateDir, tokenFile)
		if created {
			source = "generated, " + source
		}
	}
	if token == "" {
		log.Warn("AUTHENTICATION IS OFF: anyone on the network can join the relay", "reason", source)
	} else {
		// No fingerprint: even a short hash confirms a guessed weak token.
		log.Info("auth token", "source", source)
	}
	return token, source, nil
}

// loadOrCreateToken reads the token at path, or creates a random one there
// (mode 0600) when the file does not exist or is empty.
func loadOrCreateToken(path string) (tok string, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		if tok = strings.TrimSpace(string(data)); tok != "" {
			return tok, false, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", false, err
	}
	tok = base64.RawURLEncoding.EncodeToString(raw[:])
	if err := atomicfile.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return tok, true, nil
}

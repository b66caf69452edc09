package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshbox/meshbox/internal/atomicfile"
	"github.com/meshbox/meshbox/internal/auth"
	"github.com/meshbox/meshbox/internal/config"
)

// TokenFile is the generated relay token inside the state directory (the
// name the pairing code reads).
const TokenFile = "token"

// Token decides the relay's shared key: open or auth: none ⇒ none
// (warned); else MESH_AUTH_TOKEN; else the config's token; else the one
// stored in stateDir, generated (mode 0600) on first start. source says
// which, for the log and the page; it never contains the token.
func Token(getenv func(string) string, open bool, cfg *config.Config, stateDir string, log *slog.Logger) (token, source string, err error) {
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
		tok, created, err := loadOrCreate(filepath.Join(stateDir, TokenFile))
		if err != nil {
			return "", "", fmt.Errorf("auth token: %w (set MESH_AUTH_TOKEN, or use -open)", err)
		}
		token = tok
		source = "stored in " + filepath.Join(stateDir, TokenFile)
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

// loadOrCreate reads the token at path, or creates a random one there
// (mode 0600) when the file does not exist or is empty.
func loadOrCreate(path string) (tok string, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		if tok = strings.TrimSpace(string(data)); tok != "" {
			return tok, false, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	tok = auth.NewSecret()
	if err := atomicfile.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return tok, true, nil
}

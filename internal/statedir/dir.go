package statedir

import (
	"log/slog"
	"os"
	"path/filepath"

	"github.com/meshbox/meshbox/internal/config"
)

// Resolve picks the state directory: MESHBOX_STATE_DIR, else the config's
// state_dir, else /var/lib/meshbox. When it is not writable (a laptop
// without root), it falls back to $XDG_STATE_HOME/meshbox or
// ~/.local/state/meshbox, with a log line.
func Resolve(getenv func(string) string, cfg *config.Config, log *slog.Logger) string {
	dirs := Candidates(getenv, cfg)
	if writable(dirs[0]) {
		return dirs[0]
	}
	if len(dirs) > 1 && writable(dirs[1]) {
		log.Warn("state directory not writable, using a fallback", "wanted", dirs[0], "using", dirs[1])
		return dirs[1]
	}
	log.Warn("no writable state directory; generated secrets will not persist", "wanted", dirs[0])
	return dirs[0]
}

// Candidates lists where the state directory may be, in order: the wanted
// one (MESHBOX_STATE_DIR, the config's state_dir, /var/lib/meshbox), then
// the per-user fallback for a non-root run ($XDG_STATE_HOME/meshbox or
// ~/.local/state/meshbox). serve uses the first writable one; the console
// commands use the first that has what they need, so they find a box that
// fell back without being told where.
func Candidates(getenv func(string) string, cfg *config.Config) []string {
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

// writable creates dir if needed and checks a file can be created in it:
// permission bits alone do not tell (read-only mounts, ProtectSystem=).
func writable(dir string) bool {
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

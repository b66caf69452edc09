package bridge

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/meshbox/meshbox/internal/atomicfile"
)

// stateFile is where output values are kept for boot: restore.
const stateFile = "outputs.json"

func (b *Bridge) statePath() string {
	if b.cfg.StateDir == "" {
		return ""
	}
	return filepath.Join(b.cfg.StateDir, stateFile)
}

// loadState reads the saved output values; a missing or broken file means
// nothing to restore (logged).
func (b *Bridge) loadState() map[string]any {
	p := b.statePath()
	if p == "" {
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if !os.IsNotExist(err) {
			b.log.Warn("cannot read saved output states", "path", p, "err", err)
		}
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		b.log.Warn("saved output states unreadable; restoring off", "path", p, "err", err)
		return nil
	}
	return m
}

// persistLoop writes the output values whenever one changed, until
// Shutdown; writes are coalesced, the last one happens after the last
// change.
func (b *Bridge) persistLoop() {
	defer close(b.persistDone)
	for {
		select {
		case <-b.persistKick:
		case <-b.base.Done():
			select {
			case <-b.persistKick:
				b.saveState()
			default:
			}
			return
		}
		b.saveState()
	}
}

func (b *Bridge) saveState() {
	m := make(map[string]any, len(b.outList))
	for _, o := range b.outList {
		o.dom.lock()
		if o.kind != outMomentary {
			m[o.cfg.ID] = o.value
		}
		o.dom.unlock()
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err == nil {
		err = atomicfile.WriteFile(b.statePath(), append(data, '\n'), 0o600)
	}
	if err != nil {
		b.stats.stateWriteErrors.Add(1)
		b.log.Warn("cannot save output states", "err", err)
	}
}

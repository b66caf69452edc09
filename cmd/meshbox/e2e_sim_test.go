package main

import (
	"os"

	"context"
	"encoding/json"
	"github.com/goccy/go-yaml"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/phonetest"
)

// simRun is how long each example runs on the simulated board.
const simRun = 3 * time.Second

// TestSimExamples runs "meshbox -sim -config X" for every examples/*.yaml
// with a phone joined on the config's channel: for simRun no sensor_error
// frame arrives, the log has no sensor or serial failure, and every sensor
// and serial device publishes metrics (the simulated board carries a device
// wherever the config reads one).
func TestSimExamples(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	if err != nil || len(paths) < 4 {
		t.Fatalf("examples: %v %v", paths, err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			cfg, stop, logs, ph := serveExample(t, path, 3, "iPhone")

			want := map[string]bool{}
			for _, s := range cfg.Sensors {
				want[s.ID] = true
			}
			for _, s := range cfg.Serial {
				want[s.ID] = true
			}
			seen := map[string]bool{}
			rctx, rcancel := context.WithTimeout(context.Background(), simRun)
			defer rcancel()
			for {
				f, err := ph.Next(rctx)
				if err != nil {
					break
				}
				var m map[string]any
				if f.Type != "broadcast" || json.Unmarshal(f.Payload, &m) != nil {
					continue
				}
				switch m["msg_type"] {
				case "sensor_error":
					t.Errorf("sensor_error: %v", m)
				case "metrics":
					if src, _ := m["source"].(string); src != "" {
						seen[src] = true
					}
				}
			}
			// Failures while running count; the simulated serial peers
			// closing during shutdown do not.
			out := logs.String()
			if err := stop(); err != nil {
				t.Errorf("serve returned %v", err)
			}
			for _, bad := range []string{"sensor failed", "serial device failed"} {
				if strings.Contains(out, bad) {
					t.Errorf("log has %q", bad)
				}
			}
			// A sensor read before the phone joined is also fine: the log
			// has no failure for it. Fast ones must have been heard.
			for id := range want {
				if !seen[id] && !readBeforeJoin(cfg, id) {
					t.Errorf("no metrics from %s (heard %v)", id, seen)
				}
			}
		})
	}
}

// readBeforeJoin: sensors slower than the run may have published their one
// reading before the phone joined.
func readBeforeJoin(cfg *config.Config, id string) bool {
	for _, s := range cfg.Sensors {
		if s.ID == id {
			return s.Interval > simRun/2
		}
	}
	return false
}

// withoutLinks copies an example config without its mqtt: and upstream:
// sections (they name hosts on other networks; tests only talk to
// loopback) and returns the copy's path.
// serveExample serves the example at path (its outside links removed) on
// the simulated board seeded seed, with a phone named phone joined on the
// config's channel.
func serveExample(t *testing.T, path string, seed uint64, phone string) (cfg *config.Config, stop func() error, logs *syncBuf, ph *phonetest.Phone) {
	t.Helper()
	path = withoutLinks(t, path)
	cfg, err := config.LoadFor(path, "")
	if err != nil {
		t.Fatal(err)
	}
	const token = "sim-examples-token"
	board := simhost.New(simhost.Options{Seed: seed})
	addr, stop, logs := startServeOn(t, board, map[string]string{"MESH_AUTH_TOKEN": token}, "-sim", "-config", path)
	opts := phonetest.App(phone, token)
	opts.Channel = cfg.Channel
	return cfg, stop, logs, phonetest.Dial(t, "ws://"+addr+"/", opts)
}

func withoutLinks(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.MapSlice
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	kept := doc[:0]
	for _, item := range doc {
		if k, _ := item.Key.(string); k != "mqtt" && k != "upstream" {
			kept = append(kept, item)
		}
	}
	out, err := yaml.Marshal(kept)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

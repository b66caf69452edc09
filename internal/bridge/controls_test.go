package bridge

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
)

// lookupPath walks a valuePath the way the app does (§14.5).
func lookupPath(frame map[string]any, path string) (any, bool) {
	var cur any = frame
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func matches(frame, filter map[string]any) bool {
	for k, v := range filter {
		if frame[k] != v {
			return false
		}
	}
	return true
}

// sawTarget reports whether a frame says target is on (pressed).
func sawTarget(frames []map[string]any, target string) bool {
	for _, f := range frames {
		if f["target"] == target && f["value"] == true {
			return true
		}
	}
	return false
}

// TestControlsMatchFrames runs the demo config on the simulated board and
// checks that every control Controls describes is driven by a real frame,
// and that the snapshot lists exactly those ids.
func TestControlsMatchFrames(t *testing.T) {
	cfg := config.Demo()
	for i := range cfg.Sensors {
		cfg.Sensors[i].Interval = 10 * time.Millisecond
	}
	cfg.ActuationRate = 100
	board := simhost.New(simhost.Options{Seed: 1})
	b, m := newTest(t, cfg, nil, Options{OpenSensor: DefaultOpenSensor}, board)
	ctx := context.Background()
	controls := Controls(cfg)
	for _, c := range controls {
		switch c.Kind {
		case KindSwitch, KindMomentary:
			if _, err := b.Apply(ctx, c.ID, true, "t"); err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
		case KindPWM:
			if _, err := b.Apply(ctx, c.ID, "40", "t"); err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
		case KindInput:
			l := gpio.Line{Offset: pinOf(cfg, c.ID)}
			board.Press(l)
			// Held until the bridge has seen it (debounced), however
			// busy the machine: a fixed hold can end before the input
			// loop ever samples the line.
			held := time.Now().Add(20 * time.Second)
			for !sawTarget(m.all(), c.ID) && time.Now().Before(held) {
				time.Sleep(5 * time.Millisecond)
			}
			board.Release(l)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	pending := map[string]Control{}
	for _, c := range controls {
		pending[c.ID] = c
	}
	for len(pending) > 0 && time.Now().Before(deadline) {
		for _, f := range m.all() {
			for id, c := range pending {
				if !matches(f, c.Filter) {
					continue
				}
				v, ok := lookupPath(f, c.ValuePath)
				if !ok {
					continue
				}
				var kindOK bool
				switch v.(type) {
				case bool:
					kindOK = c.ValueKind == "bool"
				case float64:
					kindOK = c.ValueKind == "number"
				case string:
					kindOK = c.ValueKind == "string"
				}
				if !kindOK {
					t.Errorf("%s: value %v (%T) is not a %s", id, v, v, c.ValueKind)
				}
				delete(pending, id)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for id := range pending {
		t.Errorf("no frame drives control %s (%+v)", id, pending[id])
	}
	_, snap := b.Snapshot()
	var want, got []string
	for _, c := range controls {
		want = append(want, c.ID)
	}
	for id := range snap {
		got = append(got, id)
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(want, ",") != strings.Join(got, ",") {
		t.Errorf("snapshot ids %v, controls %v", got, want)
	}
}

func pinOf(cfg *config.Config, id string) int {
	for _, in := range cfg.Inputs {
		if in.ID == id {
			return in.Pin.BCM
		}
	}
	return -1
}

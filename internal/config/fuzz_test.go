package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, must
// fail with "NAME:..." *Error values, and anything it accepts must satisfy
// the invariants the bridge relies on.
func FuzzParse(f *testing.F) {
	if m, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml")); err == nil {
		for _, p := range m {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	if ar, err := txtar.ParseFile(filepath.Join("testdata", "errors.txtar")); err == nil {
		for _, fl := range ar.Files {
			if strings.HasSuffix(fl.Name, ".yaml") {
				f.Add(fl.Data)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "logic.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("inputs: [{id: d, pin: 5}]\nautomations:\n  - {id: a, when: \"d && !a\", for: 1s, do: [{notify: x}], else: [{enable: a}]}\n"))
	f.Add([]byte("location: {lat: 1, lon: 2}\nautomations:\n  - {id: a, sunrise: \"-1h\", do: [{delay: 1s}]}\n  - {id: b, cron: \"@daily\", do: [{disable: a}]}\n"))
	f.Add([]byte("base: &b {pin: 17}\noutputs:\n  - <<: *b\n    id: a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		type result struct {
			c   *Config
			err error
		}
		done := make(chan result, 1)
		go func() {
			c, err := Parse("f.yaml", data)
			done <- result{c, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Parse hangs on %q", data)
		}
		c, err := r.c, r.err
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not a *config.Error: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), "f.yaml") || e.Reason == "" || e.Line < 0 {
				t.Fatalf("badly formed error: %q", err)
			}
			return
		}
		ids := map[string]bool{}
		pins := map[int]bool{}
		for _, o := range c.Outputs {
			if !ValidID(o.ID) || ids[o.ID] {
				t.Fatalf("accepted bad or duplicate id %q", o.ID)
			}
			ids[o.ID] = true
			if o.Pin.Chip == "" {
				if o.Pin.BCM < 2 || o.Pin.BCM > 27 || pins[o.Pin.BCM] {
					t.Fatalf("accepted pin %+v", o.Pin)
				}
				pins[o.Pin.BCM] = true
			}
		}
		for _, s := range c.Sensors {
			if _, ok := Drivers()[s.Driver]; !ok {
				t.Fatalf("accepted driver %q", s.Driver)
			}
		}
		env := c.ExprEnv()
		for _, a := range c.Automations {
			if !ValidID(a.ID) || ids[a.ID] || a.Trigger == "" || a.Enabled == nil || len(a.Do)+len(a.Else) == 0 {
				t.Fatalf("accepted automation %+v", a)
			}
			ids[a.ID] = true
			if a.Trigger == TriggerWhen {
				if _, _, err := CompileWhen(a.When, env); err != nil {
					t.Fatalf("accepted when %q: %v", a.When, err)
				}
			}
			if a.Trigger == TriggerCron {
				if _, err := CronParser().Parse(a.Cron); err != nil {
					t.Fatalf("accepted cron %q", a.Cron)
				}
			}
		}
		for _, th := range c.Thermostats {
			if len(th.Range) != 2 || th.Target < th.Range[0] || th.Target > th.Range[1] || th.Stale <= 0 {
				t.Fatalf("accepted thermostat %+v", th)
			}
		}
		if !ValidName(c.Name) || !ValidName(c.Channel) {
			t.Fatalf("accepted name %q channel %q", c.Name, c.Channel)
		}
		if err := c.WriteWiring(io.Discard); err != nil {
			t.Fatal(err)
		}
		_ = c.Assignments()
	})
}

package config

import (
	"errors"
	"testing"
	"time"
)

// TestPairingWindowZero: an explicit "window: 0s" does not silently become
// the 10-minute default; it is an error naming file, line and field.
func TestPairingWindowZero(t *testing.T) {
	_, err := Parse("box.yaml", []byte("name: box\npairing:\n  window: 0s\n"))
	var e *Error
	if !errors.As(err, &e) || e.File != "box.yaml" || e.Line != 3 || e.Field != "pairing.window" {
		t.Fatalf("window: 0s = %v (%+v); want box.yaml:3: pairing.window", err, e)
	}
	if want := "box.yaml:3: pairing.window: must be > 0; use always: true to keep pairing open"; err.Error() != want {
		t.Fatalf("err = %q\nwant %q", err, want)
	}
	if _, err := Parse("neg.yaml", []byte("pairing:\n  window: -1m\n")); err == nil {
		t.Fatal("negative window accepted")
	}
	for src, want := range map[string]time.Duration{
		"name: box\n":                               DefaultPairingWindow, // absent: the default
		"pairing:\n  window: 90s\n":                 90 * time.Second,
		"pairing:\n  always: true\n  window: 0s\n":  DefaultPairingWindow, // always: the window does not matter
		"pairing:\n  always: true\n":                DefaultPairingWindow,
		"pairing:\n  window: 2m\n  always: false\n": 2 * time.Minute,
	} {
		c, err := Parse("ok.yaml", []byte(src))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if c.Pairing.Window != want {
			t.Errorf("%q: window %v; want %v", src, c.Pairing.Window, want)
		}
	}
}

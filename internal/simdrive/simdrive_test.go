package simdrive

import (
	"context"
	"errors"
	"testing"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
)

const yaml = `
inputs:
  - {id: door, pin: 23, active_low: true}
sensors:
  - id: air
    driver: sht3x
    fields:
      - {name: air_temp, source: temperature, scale: 2, offset: 1}
  - id: cpu
    driver: cputemp
`

func setup(t *testing.T) (*Driver, *simhost.Board, *config.Config) {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	b := simhost.New(simhost.Options{})
	t.Cleanup(func() { b.Close() })
	return New(cfg, b), b, cfg
}

func TestForcedFieldsAndFaults(t *testing.T) {
	d, b, cfg := setup(t)
	open := d.OpenSensor(bridge.DefaultOpenSensor)
	r, err := open(b, cfg.Sensors[0])
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := d.Handle(mustFrame(t, `{"target":"air_temp","value":18}`)); err != nil {
		t.Fatal(err)
	}
	vals, err := r.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := bridge.SensorMetrics(cfg.Sensors[0], vals)["air_temp"]; got != 18.0 {
		t.Fatalf("air_temp %v, want 18 (through scale and offset)", got)
	}
	if err := d.Handle(mustFrame(t, `{"target":"air_temp","value":null}`)); err != nil {
		t.Fatal(err)
	}
	vals, _ = r.Read(context.Background())
	if got := bridge.SensorMetrics(cfg.Sensors[0], vals)["air_temp"]; got == 18.0 {
		t.Fatalf("still forced: %v", got)
	}
	if err := d.Handle(mustFrame(t, `{"target":"air","fault":true}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(context.Background()); !errors.Is(err, ErrFault) {
		t.Fatalf("read with fault: %v", err)
	}
	if _, err := open(b, cfg.Sensors[0]); !errors.Is(err, ErrFault) {
		t.Fatalf("open with fault: %v", err)
	}
	d.SetFault("air", false)
	if _, err := r.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"target":"air_temp","value":"hot"}`, `{"target":"nope","value":1}`, `{"target":"air","value":1}`, `{"target":"nope","fault":true}`, `{"target":"door","value":3}`} {
		if err := d.Handle(mustFrame(t, bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestInputLevel(t *testing.T) {
	d, b, _ := setup(t)
	in, err := b.Input(gpio.Line{Offset: 23}, gpio.PullUp)
	if err != nil {
		t.Fatal(err)
	}
	// active_low: door true = line low.
	if err := d.Set("door", true); err != nil {
		t.Fatal(err)
	}
	if lvl, _ := in.Read(); lvl {
		t.Fatal("door true should pull the line low")
	}
	if err := d.Set("door", nil); err != nil {
		t.Fatal(err)
	}
	if lvl, _ := in.Read(); !lvl {
		t.Fatal("released door should be high (inactive)")
	}
	if d.State()["door"] != nil {
		t.Errorf("state %v", d.State())
	}
}

func TestNotSimulated(t *testing.T) {
	var d *Driver = New(&config.Config{}, nil)
	if err := d.Handle(Frame{Target: "x"}); !errors.Is(err, ErrNotSimulated) {
		t.Fatalf("%v", err)
	}
	if err := d.SetFault("x", true); !errors.Is(err, ErrNotSimulated) {
		t.Fatalf("%v", err)
	}
}

func mustFrame(t *testing.T, s string) Frame {
	t.Helper()
	f, err := ParseFrame([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{`{"target":"air_temp","value":18}`, `{"target":"air","fault":true}`, `{"target":"door","value":null}`, `{`, `[]`, `{"target":""}`} {
		f.Add([]byte(s))
	}
	cfg, err := config.Parse("t.yaml", []byte(yaml))
	if err != nil {
		f.Fatal(err)
	}
	b := simhost.New(simhost.Options{})
	defer b.Close()
	d := New(cfg, b)
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ParseFrame(data)
		if err != nil {
			return
		}
		_ = d.Handle(fr) // never panics; errors are fine
	})
}

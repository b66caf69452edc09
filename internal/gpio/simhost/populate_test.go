package simhost_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/sensor"
)

// TestAddI2CDevice: a device of each I²C driver (aliases included) added at
// a non-default address on a named bus is read by the real driver.
func TestAddI2CDevice(t *testing.T) {
	b := simhost.New(simhost.Options{Seed: 5, Empty: true})
	defer b.Close()
	ctx := context.Background()
	cases := []struct {
		driver, bus string
		addr        uint16
		field       string
	}{
		{"bme280", "1", 0x77, "pressure"},
		{"sht3x", "/dev/i2c-3", 0x45, "humidity"}, // creates bus 3
		{"bh1750", "", 0x5c, "lux"},
		{"tmp102", "I2C1", 0x4a, "temperature"},
		{"lm75", "1", 0x4f, "temperature"},
		{"ads1115", "1", 0x4b, "ch0"},
		{"ina219", "1", 0x41, "voltage"},
		{"bh1750", "1", 0, "lux"}, // default address 0x23
	}
	for _, c := range cases {
		if err := b.AddI2CDevice(c.bus, c.addr, c.driver); err != nil {
			t.Fatalf("%s: %v", c.driver, err)
		}
		s, err := sensor.Open(c.driver, b, c.bus, c.addr, "")
		if err != nil {
			t.Fatalf("open %s: %v", c.driver, err)
		}
		v, err := s.Read(ctx)
		s.Close()
		if err != nil {
			t.Fatalf("read %s at 0x%02x on %q: %v", c.driver, c.addr, c.bus, err)
		}
		if _, ok := v[c.field]; !ok {
			t.Errorf("%s: no %s in %v", c.driver, c.field, v)
		}
	}
	// Nothing elsewhere: the fakes are only where they were put.
	s, err := sensor.Open("bh1750", b, "3", 0x5c, "") // 0x5c was put on bus 1, not 3
	if err == nil {
		_, err = s.Read(ctx)
		s.Close()
	}
	if !errors.Is(err, simhost.ErrNACK) {
		t.Errorf("read of an empty address = %v; want a NACK", err)
	}
	for _, bad := range []string{"ds18b20", "cputemp", "nosuch"} {
		if err := b.AddI2CDevice("1", 0x10, bad); err == nil {
			t.Errorf("AddI2CDevice(%q) accepted", bad)
		}
	}
}

// TestAddW1Slave: a DS18B20 at any path, read by the driver.
func TestAddW1Slave(t *testing.T) {
	b := simhost.New(simhost.Options{Seed: 5, Empty: true})
	defer b.Close()
	p, err := sensor.W1SlavePath("28-0316a2799aff")
	if err != nil {
		t.Fatal(err)
	}
	b.AddW1Slave(p, "probe")
	s, err := sensor.Open("ds18b20", b, "", 0, "28-0316a2799aff")
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Read(context.Background())
	if err != nil || v["temperature"] < 5 || v["temperature"] > 35 {
		t.Fatalf("ds18b20 = %v, %v", v, err)
	}
}

// TestSimValue stays within its range and moves with the clock.
func TestSimValue(t *testing.T) {
	now := time.Unix(1000, 0)
	b := simhost.New(simhost.Options{Seed: 1, Empty: true, Now: func() time.Time { return now }})
	defer b.Close()
	first := b.SimValue(-10, 50, 0)
	seen := map[float64]bool{}
	for i := range 120 {
		now = now.Add(10 * time.Second)
		v := b.SimValue(-10, 50, float64(i%3))
		if v < -10 || v > 50 {
			t.Fatalf("SimValue = %v outside -10..50", v)
		}
		seen[v] = true
		if d := b.SimValue(0, 0, 0); d < 0 || d > 100 {
			t.Fatalf("default range value %v", d)
		}
	}
	if len(seen) < 10 || seen[first] && len(seen) == 1 {
		t.Errorf("SimValue does not move: %v", seen)
	}
}

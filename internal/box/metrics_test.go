package box

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/gpio/simhost"
	"github.com/meshbox/meshbox/internal/logtest"
	"github.com/meshbox/meshbox/internal/metrics"
	"github.com/meshbox/meshbox/internal/metrics/metricstest"
)

// runBox runs a simulated demo box on loopback until the test ends.
func runBox(t *testing.T, board *simhost.Board) (*Box, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Demo()
	cfg.MDNS.Disabled = true
	bx, err := New(Options{Config: cfg, Logger: logtest.New(t).Logger(), Listener: ln,
		StateDir: t.TempDir(), Sim: true, Board: board, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bx.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return")
		}
	})
	select {
	case <-bx.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("box not ready")
	}
	return bx, "http://" + ln.Addr().String() + "/metrics"
}

// scrapeUntil scrapes url until ok holds (15 s).
func scrapeUntil(t *testing.T, url, what string, ok func(*metricstest.Scrape) bool) *metricstest.Scrape {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := metricstest.Get(t, url)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expected maps a demo field's value to its metric, independently of the
// package's conversion table.
func expected(unit string, v float64) (family string, want float64, ok bool) {
	switch unit {
	case "°C":
		return "meshbox_temperature_celsius", v, true
	case "%RH":
		return "meshbox_humidity_ratio", v / 100, true
	case "hPa":
		return "meshbox_pressure_pascals", v * 100, true
	case "lx":
		return "meshbox_illuminance_lux", v, true
	}
	return "", 0, false
}

func allUp(cfg *config.Config) func(*metricstest.Scrape) bool {
	return func(s *metricstest.Scrape) bool {
		for _, sc := range cfg.Sensors {
			if v, _ := s.Value("meshbox_sensor_up", "sensor", sc.ID); v != 1 {
				return false
			}
		}
		return true
	}
}

// The running simulated box's /metrics parses as Prometheus text (and
// lints), has every configured sensor field with the bridge's current
// value in base units, follows outputs, and drops a faulted sensor's
// values while its error counter rises.
func TestMetricsOfARunningBox(t *testing.T) {
	fixed := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	board := simhost.New(simhost.Options{Seed: 7, Now: func() time.Time { return fixed }}) // frozen room: stable readings
	bx, url := runBox(t, board)
	cfg := bx.Config()

	scrapeUntil(t, url, "every sensor up", allUp(cfg))
	// Families are collected one after the other: scrape again now that
	// every sensor has read, so no value family was collected before.
	s := metricstest.Get(t, url)
	_, snap := bx.Bridge().Snapshot()
	n := 0
	for _, c := range bridge.Controls(cfg) {
		if c.Kind != bridge.KindSensor {
			continue
		}
		v, ok := snap[c.ID].(float64)
		if !ok {
			t.Errorf("%s: no value in the snapshot", c.ID)
			continue
		}
		fam, want, known := expected(c.Unit, v)
		if !known {
			got, ok := s.Value("meshbox_sensor_value", "sensor", c.Source, "field", c.ID, "unit", c.Unit)
			if !ok || got != v {
				t.Errorf("meshbox_sensor_value{%s} = %v (%v), want %v", c.ID, got, ok, v)
			}
			n++
			continue
		}
		got, ok := s.Value(fam, "sensor", c.Source, "field", c.ID)
		if !ok || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s{sensor=%q,field=%q} = %v (present %v), want %v (snapshot %v %s)", fam, c.Source, c.ID, got, ok, want, v, c.Unit)
		}
		n++
	}
	if n < 5 {
		t.Fatalf("only %d sensor fields checked", n)
	}
	for _, name := range []string{"meshbox_build_info", "meshbox_relay_connections", "meshbox_bridge_commands_total",
		"meshbox_output_switches_total", "meshbox_output_on_seconds_total", "meshbox_input_active", "meshbox_sensor_reads_total"} {
		if _, ok := s.Families[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	if v, _ := s.Value("meshbox_output_on", "output", "lamp"); v != 0 {
		t.Errorf("lamp on = %v before any command", v)
	}

	// Switching an output changes its gauges.
	ctx := context.Background()
	if _, err := bx.Bridge().Apply(ctx, "lamp", true, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := bx.Bridge().Apply(ctx, "dimmer", 40.0, "test"); err != nil {
		t.Fatal(err)
	}
	s = scrapeUntil(t, url, "lamp on, dimmer at 40 %", func(s *metricstest.Scrape) bool {
		on, _ := s.Value("meshbox_output_on", "output", "lamp")
		duty, _ := s.Value("meshbox_output_duty_ratio", "output", "dimmer")
		sw, _ := s.Value("meshbox_output_switches_total", "output", "lamp")
		return on == 1 && duty == 0.4 && sw >= 1
	})
	if _, err := bx.Bridge().Apply(ctx, "lamp", false, "test"); err != nil {
		t.Fatal(err)
	}
	scrapeUntil(t, url, "lamp off with on-time counted", func(s *metricstest.Scrape) bool {
		on, _ := s.Value("meshbox_output_on", "output", "lamp")
		secs, _ := s.Value("meshbox_output_on_seconds_total", "output", "lamp")
		return on == 0 && secs > 0
	})

	// A faulted sensor (its I²C device stops answering) drops its values.
	climate := cfg.Sensors[0]
	if climate.ID != "climate" || climate.Driver != config.DriverBME280 {
		t.Fatalf("demo sensor 0 = %+v", climate)
	}
	board.Bus(climate.Bus).SetFault(climate.Address, errors.New("simulated fault: no ACK"))
	scrapeUntil(t, url, "climate down", func(s *metricstest.Scrape) bool {
		up, _ := s.Value("meshbox_sensor_up", "sensor", "climate")
		errs, _ := s.Value("meshbox_sensor_read_errors_total", "sensor", "climate")
		return up == 0 && errs >= 1
	})
	s = metricstest.Get(t, url) // every family collected after the failure
	if up, _ := s.Value("meshbox_sensor_up", "sensor", "climate"); up != 0 {
		t.Fatalf("climate up again while faulted:\n%s", s)
	}
	for _, fam := range []string{"meshbox_temperature_celsius", "meshbox_humidity_ratio", "meshbox_pressure_pascals"} {
		if v, ok := s.Value(fam, "sensor", "climate"); ok {
			t.Errorf("%s{sensor=climate} = %v while the sensor fails: a frozen value", fam, v)
		}
	}
	if v, ok := s.Value("meshbox_illuminance_lux", "sensor", "light"); !ok || v <= 0 {
		t.Errorf("the light sensor lost its value too: %v %v", v, ok)
	}
	if up, _ := s.Value("meshbox_sensor_up", "sensor", "light"); up != 1 {
		t.Errorf("light up = %v", up)
	}

	// Cleared: it comes back.
	board.Bus(climate.Bus).SetFault(climate.Address, nil)
	scrapeUntil(t, url, "climate back", func(s *metricstest.Scrape) bool {
		_, ok := s.Value("meshbox_temperature_celsius", "sensor", "climate")
		return ok
	})
}

// Other parts of the box register their families on Box.Metrics.
func TestMetricsRegistration(t *testing.T) {
	bx, url := runBox(t, simhost.New(simhost.Options{}))
	if err := bx.Metrics().Register(metrics.Family{Name: "meshbox_example_registered_bytes", Help: "A family registered by a component.",
		Type: metrics.Gauge, Collect: func(emit metrics.Emit) { emit(4096) }}); err != nil {
		t.Fatal(err)
	}
	if err := bx.Metrics().Register(metrics.Family{Name: "meshbox_output_on", Help: "again", Type: metrics.Gauge,
		Collect: func(metrics.Emit) {}}); err == nil {
		t.Error("a name registered twice was accepted")
	}
	s := metricstest.Get(t, url)
	if v, ok := s.Value("meshbox_example_registered_bytes"); !ok || v != 4096 {
		t.Errorf("registered family = %v %v", v, ok)
	}
}

// Thermostats and automations are on /metrics: target, enabled, state.
func TestMetricsOfAutomations(t *testing.T) {
	cfg, err := config.Parse("greenhouse.yaml", []byte(autoYAML))
	if err != nil {
		t.Fatal(err)
	}
	board := simhost.New(simhost.Options{Seed: 1})
	ws := startAutoBox(t, cfg, Options{Sim: true, Board: board})
	url := "http" + strings.TrimSuffix(strings.TrimPrefix(ws, "ws"), "/") + "/metrics"
	s := scrapeUntil(t, url, "the thermostat's state", func(s *metricstest.Scrape) bool {
		_, ok := s.Value("meshbox_automation_state", "id", "heating", "kind", "thermostat")
		return ok
	})
	if v, ok := s.Value("meshbox_thermostat_target_celsius", "thermostat", "heating"); !ok || v != 20 {
		t.Errorf("thermostat target = %v %v", v, ok)
	}
	for _, id := range []string{"heating", "vent_humid", "door_open"} {
		if v, ok := s.Value("meshbox_automation_enabled", "id", id); !ok || v != 1 {
			t.Errorf("%s enabled = %v %v", id, v, ok)
		}
	}
	scrapeUntil(t, url, "the thermostat's sensor field", func(s *metricstest.Scrape) bool {
		_, ok := s.Value("meshbox_temperature_celsius", "sensor", "air", "field", "air_temp")
		return ok
	})
	// door_open has not run; opening the door runs it and stamps its last run.
	if v, ok := s.Value("meshbox_automation_last_run_timestamp_seconds", "id", "door_open"); ok && v != 0 {
		t.Errorf("door_open last run %v before it ran", v)
	}
	before := float64(time.Now().Unix())
	if err := board.Press(gpio.Line{Offset: 23}); err != nil {
		t.Fatal(err)
	}
	s = scrapeUntil(t, url, "door_open's last run", func(s *metricstest.Scrape) bool {
		v, ok := s.Value("meshbox_automation_last_run_timestamp_seconds", "id", "door_open")
		return ok && v != 0
	})
	if v, _ := s.Value("meshbox_automation_last_run_timestamp_seconds", "id", "door_open"); v < before-1 || v > float64(time.Now().Unix())+1 {
		t.Errorf("door_open last run %v, want a Unix time in [%v, now]", v, before)
	}
}

package sensor

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/meshbox/meshbox/internal/gpio"
)

const cpuTempPath = "/sys/class/thermal/thermal_zone0/temp"

// ParseMilli parses a sysfs integer in thousandths ("48312\n" -> 48.312).
func ParseMilli(b []byte) (float64, error) {
	if len(b) > 64 {
		return 0, fmt.Errorf("%w: %d bytes for one number", ErrBadData, len(b))
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not an integer", ErrBadData, s)
	}
	return float64(v) / 1000, nil
}

// CPUTemp reads the SoC temperature from a thermal zone.
type CPUTemp struct{ sysfsFile }

// NewCPUTemp returns a driver for the thermal zone file at path (default
// /sys/class/thermal/thermal_zone0/temp).
func NewCPUTemp(host gpio.Host, path string) *CPUTemp {
	if path == "" {
		path = cpuTempPath
	}
	return &CPUTemp{sysfsFile{host: host, path: path}}
}

func (s *CPUTemp) String() string { return "cputemp:" + s.path }
func (s *CPUTemp) Close() error   { return nil }

// Fields lists temperature.
func (s *CPUTemp) Fields() []FieldInfo { return []FieldInfo{{"temperature", "°C", 0, 100, 0.1}} }

// Read returns the temperature in °C.
func (s *CPUTemp) Read(ctx context.Context) (map[string]float64, error) {
	t, err := s.read(ctx, s, ParseMilli)
	if err != nil {
		return nil, err
	}
	if t < -40 || t > 150 {
		return nil, fmt.Errorf("%s: %w: %.3f °C out of range", s, ErrBadData, t)
	}
	return map[string]float64{"temperature": t}, nil
}

package sensor

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/meshbox/meshbox/internal/gpio"
)

const (
	w1Devices = "/sys/bus/w1/devices"
	w1Slave   = "w1_slave"
	// maxSysfsFile bounds what a parser accepts from a sysfs file.
	maxSysfsFile = 4096
)

// ParseW1Slave parses the w1_therm driver's w1_slave file:
//
//	72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//	72 01 4b 46 7f ff 0e 10 57 t=23125
//
// It checks the kernel's verdict ("YES") and the Dallas CRC of the nine
// scratchpad bytes itself, rejects an all-zero scratchpad (a missing pull-up
// reads as zeros with a valid CRC) and the 85.000 °C power-on value, and
// returns °C.
func ParseW1Slave(b []byte) (float64, error) {
	if len(b) > maxSysfsFile {
		return 0, fmt.Errorf("%w: w1_slave: %d bytes", ErrBadData, len(b))
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return 0, fmt.Errorf("%w: w1_slave: want 2 lines, got %d", ErrBadData, len(lines))
	}
	first := strings.TrimSpace(lines[0])
	hexPart, verdict, ok := strings.Cut(first, ":")
	if !ok {
		return 0, fmt.Errorf("%w: w1_slave: no crc verdict in %q", ErrBadData, first)
	}
	scratch, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(hexPart), " ", ""))
	if err != nil || len(scratch) != 9 {
		return 0, fmt.Errorf("%w: w1_slave: scratchpad %q is not 9 hex bytes", ErrBadData, hexPart)
	}
	v := strings.Fields(verdict)
	if len(v) != 2 || !strings.HasPrefix(v[0], "crc=") {
		return 0, fmt.Errorf("%w: w1_slave: verdict %q", ErrBadData, verdict)
	}
	if v[1] != "YES" {
		return 0, fmt.Errorf("%w: w1_slave: kernel reports bad CRC (%s %s)", ErrCRC, v[0], v[1])
	}
	if CRC8Dallas(scratch) != 0 {
		return 0, fmt.Errorf("%w: w1_slave: scratchpad % x fails the Dallas CRC", ErrCRC, scratch)
	}
	if bytes.Count(scratch, []byte{0}) == len(scratch) {
		return 0, fmt.Errorf("%w: w1_slave: all-zero scratchpad (sensor missing or no pull-up)", ErrBadData)
	}
	second := strings.TrimSpace(lines[1])
	i := strings.LastIndex(second, "t=")
	if i < 0 {
		return 0, fmt.Errorf("%w: w1_slave: no t= in %q", ErrBadData, second)
	}
	milli, err := strconv.ParseInt(second[i+2:], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: w1_slave: temperature %q", ErrBadData, second[i+2:])
	}
	if milli == 85000 {
		return 0, fmt.Errorf("%w: w1_slave: 85.000 °C is the power-on value (conversion did not run)", ErrBadData)
	}
	t := float64(milli) / 1000
	if t < -55 || t > 125 {
		return 0, fmt.Errorf("%w: w1_slave: %.3f °C outside the sensor's range", ErrBadData, t)
	}
	return t, nil
}

// W1SlavePath resolves a DS18B20 config path: a device id
// ("28-000005e2fdc3"), its directory, or the w1_slave file itself.
func W1SlavePath(p string) (string, error) {
	p = strings.TrimSpace(p)
	switch {
	case p == "":
		return "", fmt.Errorf("ds18b20: %w: path is empty (want a device id such as 28-000005e2fdc3)", ErrBadData)
	case !strings.Contains(p, "/"):
		return path.Join(w1Devices, p, w1Slave), nil
	case path.Base(p) == w1Slave:
		return p, nil
	default:
		return path.Join(p, w1Slave), nil
	}
}

// DS18B20 reads a 1-Wire DS18B20 through the kernel's w1_therm sysfs file.
type DS18B20 struct{ sysfsFile }

// NewDS18B20 returns a driver reading path (see W1SlavePath) through host.
func NewDS18B20(host gpio.Host, p string) (*DS18B20, error) {
	full, err := W1SlavePath(p)
	if err != nil {
		return nil, err
	}
	return &DS18B20{sysfsFile{host: host, path: full}}, nil
}

func (s *DS18B20) String() string { return "ds18b20:" + s.path }
func (s *DS18B20) Close() error   { return nil }

// Fields lists temperature.
func (s *DS18B20) Fields() []FieldInfo { return []FieldInfo{{"temperature", "°C", -55, 125, 0.01}} }

// Read reads the w1_slave file (the kernel runs a conversion, ~750 ms).
func (s *DS18B20) Read(ctx context.Context) (map[string]float64, error) {
	t, err := s.read(ctx, s, ParseW1Slave)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"temperature": t}, nil
}

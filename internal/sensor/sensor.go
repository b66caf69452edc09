package sensor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshbox/meshbox/internal/gpio"
)

// Errors a caller can test with errors.Is.
var (
	// ErrUnknownDriver: the driver name is not one of Drivers().
	ErrUnknownDriver = errors.New("unknown sensor driver")
	// ErrBadAddress: the I²C address is not valid for the driver.
	ErrBadAddress = errors.New("address not valid for driver")
	// ErrCRC: a checksum sent by the device did not match its data.
	ErrCRC = errors.New("checksum mismatch")
	// ErrBadData: the device answered with something that is not a reading
	// (wrong chip id, skipped measurement, power-on value, unparsable file).
	ErrBadData = errors.New("invalid sensor data")
)

// FieldInfo describes one value a driver reports.
type FieldInfo struct {
	Name string  // key in the map returned by Read
	Unit string  // "°C", "%RH", "hPa", "lx", "V", "A", "W", "mV"
	Min  float64 // plausible gauge range
	Max  float64
	// Resolution is the smallest meaningful step of a value, as a decimal
	// place (0.01: two decimals); readings are rounded to it (Round) before
	// they are published on the mesh, MQTT and /metrics. 0: not rounded.
	Resolution float64
}

// Sensor is one opened device. Read is safe for concurrent use, honours ctx
// during conversion waits, and returns an error (never a made-up value) when
// the device fails; the next Read re-initialises the device.
type Sensor interface {
	Read(ctx context.Context) (map[string]float64, error)
	Fields() []FieldInfo
	String() string
	Close() error
}

// Kind says what a driver needs to be opened.
type Kind int

const (
	KindI2C  Kind = iota // an I²C bus and address
	KindFile             // a sysfs path read with gpio.Host.ReadFile
	KindNone             // nothing (simulated)
)

// DriverInfo describes a driver for the config loader and `meshbox check`.
type DriverInfo struct {
	Name        string
	AliasOf     string // family driver name for aliases ("lm75" -> "tmp102"), else ""
	Kind        Kind
	DefaultAddr uint16   // KindI2C
	Addrs       []uint16 // valid addresses, KindI2C
	DefaultPath string   // KindFile
	Fields      []FieldInfo
	Description string
}

// ValidAddr reports whether addr is valid for the driver (0 means default).
func (d DriverInfo) ValidAddr(addr uint16) bool {
	if d.Kind != KindI2C {
		return addr == 0
	}
	return addr == 0 || slices.Contains(d.Addrs, addr)
}

func addrRange(lo, hi uint16) []uint16 {
	var a []uint16
	for x := lo; x <= hi; x++ {
		a = append(a, x)
	}
	return a
}

// Drivers lists every driver, aliases included, in a fixed order. The result
// is freshly built; callers may keep or modify it.
func Drivers() []DriverInfo {
	tmpFields := []FieldInfo{{"temperature", "°C", -55, 125, 0.01}}
	return []DriverInfo{
		{Name: "bme280", Kind: KindI2C, DefaultAddr: 0x76, Addrs: []uint16{0x76, 0x77},
			Fields: bme280Fields(true), Description: "Bosch BME280/BMP280 temperature, humidity, pressure"},
		{Name: "sht3x", Kind: KindI2C, DefaultAddr: 0x44, Addrs: []uint16{0x44, 0x45},
			Fields: []FieldInfo{{"temperature", "°C", -40, 125, 0.01}, {"humidity", "%RH", 0, 100, 0.01}}, Description: "Sensirion SHT30/31/35 temperature, humidity"},
		{Name: "bh1750", Kind: KindI2C, DefaultAddr: 0x23, Addrs: []uint16{0x23, 0x5C},
			Fields: []FieldInfo{{"lux", "lx", 0, 65535, 0.1}}, Description: "ROHM BH1750 ambient light"},
		{Name: "ads1115", Kind: KindI2C, DefaultAddr: 0x48, Addrs: addrRange(0x48, 0x4B),
			Fields: ads1115Fields(ads1115DefaultFS), Description: "TI ADS1115 4-channel 16-bit ADC (single-ended, ±4.096 V)"},
		{Name: "ina219", Kind: KindI2C, DefaultAddr: 0x40, Addrs: addrRange(0x40, 0x4F),
			Fields: ina219Fields(), Description: "TI INA219 current/power monitor (0.1 Ω shunt)"},
		{Name: "tmp102", Kind: KindI2C, DefaultAddr: 0x48, Addrs: addrRange(0x48, 0x4B),
			Fields: tmpFields, Description: "TI TMP102 temperature"},
		{Name: "lm75", AliasOf: "tmp102", Kind: KindI2C, DefaultAddr: 0x48, Addrs: addrRange(0x48, 0x4F),
			Fields: tmpFields, Description: "LM75-class temperature (TMP102 family)"},
		{Name: "tmp105", AliasOf: "tmp102", Kind: KindI2C, DefaultAddr: 0x48, Addrs: addrRange(0x48, 0x4F),
			Fields: tmpFields, Description: "TI TMP105 temperature (TMP102 family, 12-bit)"},
		{Name: "ds18b20", Kind: KindFile, DefaultPath: w1Devices,
			Fields: []FieldInfo{{"temperature", "°C", -55, 125, 0.01}}, Description: "Maxim DS18B20 over the 1-Wire sysfs driver (path: device id or directory)"},
		{Name: "cputemp", Kind: KindFile, DefaultPath: cpuTempPath,
			Fields: []FieldInfo{{"temperature", "°C", 0, 100, 0.1}}, Description: "SoC temperature from the thermal zone"},
		{Name: "sim", Kind: KindNone,
			Fields: simFields(), Description: "simulated drifting climate sensor (demo, tests)"},
	}
}

// Lookup returns the driver named name (case-insensitive, aliases included).
func Lookup(name string) (DriverInfo, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, d := range Drivers() {
		if d.Name == n {
			return d, nil
		}
	}
	return DriverInfo{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownDriver, name, strings.Join(DriverNames(), ", "))
}

// DriverNames lists the accepted driver names.
func DriverNames() []string {
	var n []string
	for _, d := range Drivers() {
		n = append(n, d.Name)
	}
	return n
}

// Open opens the sensor driven by driver. For I²C drivers, bus names the bus
// (default "1") and addr the address (0 = the driver default); for file
// drivers, path is the sysfs path (DS18B20: a device id such as
// "28-000005e2fdc3", its directory or its w1_slave file; cputemp: default
// thermal zone 0). The sensor owns the bus it opens and closes it on Close.
func Open(driver string, host gpio.Host, bus string, addr uint16, path string) (Sensor, error) {
	info, err := Lookup(driver)
	if err != nil {
		return nil, err
	}
	if !info.ValidAddr(addr) {
		return nil, fmt.Errorf("%w: 0x%02x for %s (valid: %s)", ErrBadAddress, addr, info.Name, fmtAddrs(info.Addrs))
	}
	if addr == 0 {
		addr = info.DefaultAddr
	}
	if info.Kind != KindNone && host == nil {
		return nil, fmt.Errorf("sensor %s: no host", info.Name)
	}
	switch info.Kind {
	case KindFile:
		switch info.Name {
		case "ds18b20":
			return NewDS18B20(host, path)
		default:
			return NewCPUTemp(host, path), nil
		}
	case KindNone:
		return NewSim(path, time.Now), nil
	}
	if bus == "" {
		bus = "1"
	}
	b, err := host.I2C(bus)
	if err != nil {
		return nil, fmt.Errorf("sensor %s: open I²C bus %q: %w", info.Name, bus, err)
	}
	family := info.Name
	if info.AliasOf != "" {
		family = info.AliasOf
	}
	var s Sensor
	switch family {
	case "bme280":
		s = NewBME280(b, addr)
	case "sht3x":
		s = NewSHT3x(b, addr)
	case "bh1750":
		s = NewBH1750(b, addr)
	case "ads1115":
		s = NewADS1115(b, addr, ads1115DefaultFS)
	case "ina219":
		s = NewINA219(b, addr, ina219DefaultShunt, ina219DefaultMaxCurrent)
	case "tmp102":
		s = NewTMP102(b, addr, info.Name)
	default:
		_ = b.Close()
		return nil, fmt.Errorf("%w %q", ErrUnknownDriver, driver)
	}
	return &owned{Sensor: s, bus: b}, nil
}

func fmtAddrs(a []uint16) string {
	var s []string
	for _, x := range a {
		s = append(s, fmt.Sprintf("0x%02x", x))
	}
	return strings.Join(s, " ")
}

// owned closes the bus Open opened along with the sensor.
type owned struct {
	Sensor
	bus interface{ Close() error }
}

func (o *owned) Close() error {
	err := o.Sensor.Close()
	if e := o.bus.Close(); err == nil {
		err = e
	}
	return err
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

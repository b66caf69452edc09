package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/meshbox/meshbox/internal/sensor"
)

// DriverInfo is what the loader needs to know of a sensor driver; it is
// derived from internal/sensor's driver table (sensor.Drivers), so the
// loader and the drivers agree on names, addresses and fields.
type DriverInfo struct {
	Name        string
	AliasOf     string   // family driver ("lm75" -> "tmp102"), else ""
	I2C         bool     // on an I²C bus (Bus/Address apply)
	Addresses   []uint16 // valid I²C addresses
	Default     uint16   // default I²C address
	DefaultPath string   // sysfs drivers
	// Fields the driver produces, with their units.
	Fields map[string]string
}

// Drivers returns the known sensor drivers by name (aliases included).
func Drivers() map[string]DriverInfo {
	m := map[string]DriverInfo{}
	for _, d := range sensor.Drivers() {
		fi := map[string]string{}
		for _, f := range d.Fields {
			fi[f.Name] = f.Unit
		}
		m[d.Name] = DriverInfo{Name: d.Name, AliasOf: d.AliasOf, I2C: d.Kind == sensor.KindI2C,
			Addresses: d.Addrs, Default: d.DefaultAddr, DefaultPath: d.DefaultPath, Fields: fi}
	}
	return m
}

// driverNames lists the accepted driver names for messages.
func driverNames() string {
	var n []string
	for k := range Drivers() {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

func (d DriverInfo) fieldNames() string {
	var n []string
	for k := range d.Fields {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

func (d DriverInfo) addressList() string {
	if len(d.Addresses) > 2 {
		return fmt.Sprintf("0x%02x..0x%02x", d.Addresses[0], d.Addresses[len(d.Addresses)-1])
	}
	s := make([]string, len(d.Addresses))
	for i, a := range d.Addresses {
		s[i] = fmt.Sprintf("0x%02x", a)
	}
	return strings.Join(s, " or ")
}

func (d DriverInfo) validAddress(a uint16) bool {
	for _, x := range d.Addresses {
		if x == a {
			return true
		}
	}
	return false
}

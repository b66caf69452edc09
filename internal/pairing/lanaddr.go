package pairing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
)

// Iface is one network interface and its IP addresses.
type Iface struct {
	Name     string
	Up       bool
	Loopback bool
	Addrs    []net.IP
}

// Resolver finds the box's LAN address. The zero value reads the real
// /proc/net/route and the real interfaces; tests inject both.
type Resolver struct {
	// ReadRoutes returns the text of /proc/net/route.
	ReadRoutes func() ([]byte, error)
	// Interfaces lists the interfaces with their addresses.
	Interfaces func() ([]Iface, error)
	Logger     *slog.Logger
}

// ErrNoLANAddress is returned when no interface has a usable IPv4 address.
var ErrNoLANAddress = errors.New("no non-loopback IPv4 address")

// LANIPv4 returns the IPv4 address of the interface that holds the default
// route. Without a default route (or when that interface has no IPv4), it
// falls back to the first non-loopback IPv4 of an up interface and logs it.
// It never returns a loopback address.
func (r Resolver) LANIPv4() (net.IP, error) {
	ifaces, err := r.interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	routeIface, rerr := r.defaultRouteIface()
	if rerr == nil {
		for _, ifc := range ifaces {
			if ifc.Name != routeIface {
				continue
			}
			if ip := firstIPv4(ifc.Addrs); ip != nil {
				return ip, nil
			}
		}
		rerr = fmt.Errorf("default route interface %s has no IPv4 address", routeIface)
	}
	for _, ifc := range ifaces {
		if !ifc.Up || ifc.Loopback {
			continue
		}
		if ip := firstIPv4(ifc.Addrs); ip != nil {
			r.logger().Info("pairing: no default route address, using first LAN address",
				"reason", rerr.Error(), "iface", ifc.Name, "ip", ip.String())
			return ip, nil
		}
	}
	return nil, ErrNoLANAddress
}

func (r Resolver) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r Resolver) interfaces() ([]Iface, error) {
	if r.Interfaces != nil {
		return r.Interfaces()
	}
	return SystemInterfaces()
}

func (r Resolver) defaultRouteIface() (string, error) {
	read := r.ReadRoutes
	if read == nil {
		read = func() ([]byte, error) { return os.ReadFile("/proc/net/route") }
	}
	text, err := read()
	if err != nil {
		return "", fmt.Errorf("read routes: %w", err)
	}
	return DefaultRouteIface(text)
}

// DefaultRouteIface parses the text of /proc/net/route and returns the
// interface of the up default route (destination and mask 0) with the lowest
// metric.
func DefaultRouteIface(text []byte) (string, error) {
	const rtfUp = 0x1
	best, bestMetric := "", -1
	sc := bufio.NewScanner(bytes.NewReader(text))
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first { // header: Iface Destination Gateway Flags ...
			first = false
			if strings.HasPrefix(strings.TrimSpace(line), "Iface") {
				continue
			}
		}
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		dest, err1 := strconv.ParseUint(f[1], 16, 32)
		flags, err2 := strconv.ParseUint(f[3], 16, 32)
		metric, err3 := strconv.Atoi(f[6])
		mask, err4 := strconv.ParseUint(f[7], 16, 32)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		if dest != 0 || mask != 0 || flags&rtfUp == 0 {
			continue
		}
		if bestMetric < 0 || metric < bestMetric {
			best, bestMetric = f[0], metric
		}
	}
	if best == "" {
		return "", errors.New("no default route")
	}
	return best, nil
}

func firstIPv4(addrs []net.IP) net.IP {
	for _, a := range addrs {
		ip4 := a.To4()
		if ip4 == nil || ip4.IsLoopback() || ip4.IsUnspecified() || ip4.IsLinkLocalUnicast() {
			continue
		}
		return ip4
	}
	return nil
}

// SystemInterfaces lists the host's interfaces with their addresses.
func SystemInterfaces() ([]Iface, error) {
	list, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]Iface, 0, len(list))
	for _, ni := range list {
		ifc := Iface{Name: ni.Name, Up: ni.Flags&net.FlagUp != 0, Loopback: ni.Flags&net.FlagLoopback != 0}
		addrs, err := ni.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ifc.Addrs = append(ifc.Addrs, n.IP)
			}
		}
		out = append(out, ifc)
	}
	return out, nil
}

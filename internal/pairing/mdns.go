package pairing

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/hashicorp/mdns"
)

// ServiceType is the DNS-SD service type meshbox advertises.
const ServiceType = "_meshsocket._tcp"

// Advert describes the DNS-SD advertisement of the relay.
type Advert struct {
	Instance string   // service instance name (the box name)
	Hostname string   // host name; ".local." is appended when it has no dot
	Port     int      // relay port
	IPs      []net.IP // addresses for the host's A/AAAA records
	TXT      []string // key=value pairs
}

// HostFQDN returns the advertised host name as a fully qualified mDNS name
// ("meshbox" -> "meshbox.local.").
func HostFQDN(host string) string {
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		host = "meshbox"
	}
	if !strings.Contains(host, ".") {
		host += ".local"
	}
	return host + "."
}

// Service builds the mDNS zone (PTR, SRV, TXT, A records) for a.
func (a Advert) Service() (*mdns.MDNSService, error) {
	host := a.Hostname
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("mdns: host name: %w", err)
		}
		host = h
	}
	if len(a.IPs) == 0 {
		return nil, errors.New("mdns: no address to advertise")
	}
	inst := a.Instance
	if inst == "" {
		inst = "meshbox"
	}
	svc, err := mdns.NewMDNSService(inst, ServiceType, "local.", HostFQDN(host), a.Port, a.IPs, a.TXT)
	if err != nil {
		return nil, fmt.Errorf("mdns: %w", err)
	}
	return svc, nil
}

// Advertise answers mDNS queries for a until ctx is done. It returns an error
// when no multicast listener can be opened (the caller logs it and goes on:
// mDNS is optional).
func Advertise(ctx context.Context, a Advert, logger *slog.Logger) error {
	svc, err := a.Service()
	if err != nil {
		return err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv, err := mdns.NewServer(&mdns.Config{
		Zone:   svc,
		Logger: log.New(slogWriter{logger}, "", 0),
	})
	if err != nil {
		return fmt.Errorf("mdns: %w", err)
	}
	logger.Info("mdns: advertising", "service", ServiceType, "instance", svc.Instance,
		"host", svc.HostName, "port", a.Port)
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown()
	}()
	return nil
}

// slogWriter adapts the library's *log.Logger output to slog (debug level:
// the library logs every malformed packet it sees on the LAN).
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("mdns: " + strings.TrimSpace(string(p)))
	return len(p), nil
}

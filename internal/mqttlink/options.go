package mqttlink

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/meshbox/meshbox/internal/config"
)

// Options configure a Link. Build them from the config with FromConfig.
type Options struct {
	URL             *url.URL
	Username        string
	Password        string
	ClientID        string
	Base            string // topic prefix, no trailing slash
	QoS             byte
	Retain          bool
	TLS             *tls.Config // nil for plain mqtt://
	Discovery       bool
	DiscoveryPrefix string
	NodeID          string // Home Assistant node id (the box name, sanitised)
	DeviceName      string
	// StateFile remembers which discovery topics were published, so removed
	// items are cleared. Empty: keep it in memory only.
	StateFile string
	// Backoff bounds for reconnects (defaults 1s and 30s).
	MinBackoff, MaxBackoff time.Duration
}

var nodeIDRe = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// FromConfig turns the mqtt: section into Options. name is the box name;
// stateDir keeps the discovery bookkeeping file.
func FromConfig(c *config.MQTT, name, stateDir string) (Options, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return Options{}, fmt.Errorf("mqtt.url: %w", err)
	}
	o := Options{
		URL:             u,
		Username:        c.Username,
		Password:        c.Password,
		ClientID:        c.ClientID,
		Base:            strings.TrimRight(c.BaseTopic, "/"),
		Retain:          c.Retain == nil || *c.Retain,
		Discovery:       c.Discovery == nil || *c.Discovery,
		DiscoveryPrefix: c.DiscoveryPrefix,
		NodeID:          nodeIDRe.ReplaceAllString(name, "_"),
		DeviceName:      name,
	}
	if c.QoS < 0 || c.QoS > 2 {
		return Options{}, fmt.Errorf("mqtt.qos: %d is not 0, 1 or 2", c.QoS)
	}
	o.QoS = byte(c.QoS)
	if o.Base == "" {
		o.Base = "meshbox/" + name
	}
	if o.ClientID == "" {
		o.ClientID = "meshbox-" + o.NodeID
	}
	if o.DiscoveryPrefix == "" {
		o.DiscoveryPrefix = "homeassistant"
	}
	if stateDir != "" {
		o.StateFile = stateDir + "/mqtt-discovery.json"
	}
	switch u.Scheme {
	case "mqtt", "tcp", "ws":
	case "mqtts", "ssl", "tls", "wss":
		tc, err := tlsConfig(c, u.Hostname())
		if err != nil {
			return Options{}, err
		}
		o.TLS = tc
	default:
		return Options{}, fmt.Errorf("mqtt.url: scheme %q is not mqtt://, mqtts://, ws:// or wss://", u.Scheme)
	}
	if u.Port() == "" {
		port := map[string]string{"ws": "80", "wss": "443"}[u.Scheme]
		if port == "" {
			port = "1883"
			if o.TLS != nil {
				port = "8883"
			}
		}
		u.Host = u.Hostname() + ":" + port
	}
	return o, nil
}

func tlsConfig(c *config.MQTT, host string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt.ca_file: %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

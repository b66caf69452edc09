package relay

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Reference defaults (MeshSocket 0.2.0, spec §10) and meshbox's own.
const (
	DefaultRateLimit            = 50
	DefaultPipeRateLimit        = 1000
	DefaultMaxSize              = 256 * 1024
	DefaultMaxConnections       = 2000
	DefaultMaxPendingPerIP      = 10
	DefaultAuthTimeout          = 5 * time.Second
	DefaultRouteTimeout         = 5 * time.Second
	DefaultMaxOutstandingRoutes = 16
	DefaultSendTimeout          = 2 * time.Second
	DefaultPingInterval         = 20 * time.Second
	DefaultPingTimeout          = 20 * time.Second
	DefaultQueueSize            = 512
	DefaultQueueBytes           = 4 << 20
	DefaultPreAuthMaxSize       = 4096
	DefaultMaxPending           = 128
	DefaultAuthFailures         = 10
	DefaultAuthFailBlock        = time.Second
	// MinTokenLength: a configured token shorter than this is reported as
	// weak (a loud warning at start, Server.WeakToken).
	MinTokenLength = 16
)

// Default role sets (§5): the reference sets plus hub/controller/device for
// broadcast and hub/controller for routing, as the app documentation says.
func defaultBroadcastRoles() []string {
	return []string{"dashboard", "browser", "mobile", "node", "hub", "controller", "device"}
}
func defaultRouteRoles() []string {
	return []string{"browser", "mobile", "dashboard", "node", "hub", "controller"}
}
func defaultMonitorRoles() []string { return []string{"dashboard", "browser"} }

// DefaultConfig returns a Config with every knob at its documented default.
func DefaultConfig() Config {
	c := Config{}
	c.fill()
	return c
}

// fill replaces zero values by their defaults. Negative values are kept (they
// mean "off" or "unlimited" where documented).
func (c *Config) fill() {
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	setInt(&c.RateLimit, DefaultRateLimit)
	setInt(&c.PipeRateLimit, DefaultPipeRateLimit)
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	setInt(&c.MaxConnections, DefaultMaxConnections)
	setInt(&c.MaxPendingPerIP, DefaultMaxPendingPerIP)
	setInt(&c.MaxPending, DefaultMaxPending)
	setInt(&c.AuthFailures, DefaultAuthFailures)
	setDur(&c.AuthFailBlock, DefaultAuthFailBlock)
	if c.PreAuthMaxSize == 0 {
		c.PreAuthMaxSize = DefaultPreAuthMaxSize
	}
	setInt(&c.MaxOutstandingRoutes, DefaultMaxOutstandingRoutes)
	setInt(&c.QueueSize, DefaultQueueSize)
	setDur(&c.AuthTimeout, DefaultAuthTimeout)
	setDur(&c.RouteTimeout, DefaultRouteTimeout)
	setDur(&c.SendTimeout, DefaultSendTimeout)
	setDur(&c.PingInterval, DefaultPingInterval)
	setDur(&c.PingTimeout, DefaultPingTimeout)
	if c.AllowedOrigins == nil {
		c.AllowedOrigins = []string{"http://127.0.0.1", "http://localhost"}
	}
	if c.BroadcastRoles == nil {
		c.BroadcastRoles = defaultBroadcastRoles()
	}
	if c.RouteRoles == nil {
		c.RouteRoles = defaultRouteRoles()
	}
	if c.MonitorRoles == nil {
		c.MonitorRoles = defaultMonitorRoles()
	}
}

// ApplyEnv overrides knobs from environment variables, read through getenv
// (os.Getenv in production). Unset or empty variables leave the field alone.
// The names are the reference relay's (spec §10) plus meshbox's own:
//
//	MESH_AUTH_TOKEN          shared key
//	MESH_RATE_LIMIT          frames/s per connection; 0 disables (as in the reference)
//	MESH_MAX_SIZE            bytes per inbound frame
//	MESH_MAX_CONNECTIONS     open sockets
//	MESH_MAX_PENDING_PER_IP  unidentified sockets per client IP
//	MESH_MAX_PENDING         unidentified sockets in total (oldest evicted); 0 disables
//	MESH_TRUSTED_PROXIES     comma list of IPs or CIDRs
//	MESH_ALLOWED_ORIGINS     comma list of origins
//	MESH_AUTH_TIMEOUT, MESH_ROUTE_TIMEOUT, MESH_SEND_TIMEOUT,
//	MESH_PING_INTERVAL, MESH_PING_TIMEOUT   durations ("5s" or seconds "5", "0.5")
//	MESH_MAX_OUTSTANDING_ROUTES, MESH_QUEUE_SIZE, MESH_QUEUE_BYTES   integers
//	MESH_LENIENT_NAMES       bool
//	MESHBOX_PIPE_RATE_LIMIT  frames/s per in-process member; 0 disables
//
// An unparsable value is an error naming the variable.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	if v := getenv("MESH_AUTH_TOKEN"); v != "" {
		c.AuthToken = v
	}
	ints := []struct {
		name   string
		dst    *int
		zeroIs int // value stored when the variable is "0"
	}{
		{"MESH_RATE_LIMIT", &c.RateLimit, -1},
		{"MESHBOX_PIPE_RATE_LIMIT", &c.PipeRateLimit, -1},
		{"MESH_MAX_CONNECTIONS", &c.MaxConnections, -1},
		{"MESH_MAX_PENDING_PER_IP", &c.MaxPendingPerIP, -1},
		{"MESH_MAX_PENDING", &c.MaxPending, -1},
		{"MESH_MAX_OUTSTANDING_ROUTES", &c.MaxOutstandingRoutes, -1},
		{"MESH_QUEUE_SIZE", &c.QueueSize, 0},
	}
	for _, k := range ints {
		v := strings.TrimSpace(getenv(k.name))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s=%q: not an integer", k.name, v)
		}
		if n == 0 {
			n = k.zeroIs
		}
		*k.dst = n
	}
	for _, k := range []struct {
		name string
		dst  *int64
	}{{"MESH_MAX_SIZE", &c.MaxSize}, {"MESH_QUEUE_BYTES", &c.QueueBytes}} {
		v := strings.TrimSpace(getenv(k.name))
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%s=%q: not a non-negative integer", k.name, v)
		}
		*k.dst = n
	}
	durs := []struct {
		name string
		dst  *time.Duration
	}{
		{"MESH_AUTH_TIMEOUT", &c.AuthTimeout},
		{"MESH_ROUTE_TIMEOUT", &c.RouteTimeout},
		{"MESH_SEND_TIMEOUT", &c.SendTimeout},
		{"MESH_PING_INTERVAL", &c.PingInterval},
		{"MESH_PING_TIMEOUT", &c.PingTimeout},
	}
	for _, k := range durs {
		v := strings.TrimSpace(getenv(k.name))
		if v == "" {
			continue
		}
		d, err := parseDuration(v)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", k.name, v, err)
		}
		*k.dst = d
	}
	if v, ok := commaList(getenv("MESH_TRUSTED_PROXIES")); ok {
		if _, err := parsePrefixes(v); err != nil {
			return fmt.Errorf("MESH_TRUSTED_PROXIES: %w", err)
		}
		c.TrustedProxies = v
	}
	if v, ok := commaList(getenv("MESH_ALLOWED_ORIGINS")); ok {
		c.AllowedOrigins = v
	}
	if v := strings.TrimSpace(getenv("MESH_LENIENT_NAMES")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("MESH_LENIENT_NAMES=%q: not a boolean", v)
		}
		c.LenientNames = b
	}
	return nil
}

// commaList splits a comma list, trimming blanks. ok is false for an unset variable.
func commaList(v string) ([]string, bool) {
	if strings.TrimSpace(v) == "" {
		return nil, false
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, true
}

// parseDuration accepts Go durations ("1.5s") and plain seconds ("5", "0.3").
func parseDuration(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || math.IsNaN(f) || f > 1e9 {
			return 0, fmt.Errorf("out of range")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("not a duration (use 5s or 5)")
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration")
	}
	return d, nil
}

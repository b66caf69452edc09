package relay

import "time"

// Config holds every relay knob. The zero value of a field means "the
// reference default" (see Defaults); Config is read once by New.
//
// Each knob has a MESH_* environment name (ApplyEnv) and a key in the
// meshbox config file's relay: section (the yaml tags).
type Config struct {
	// AuthToken is the shared key: a hub credential (full rights, the
	// reference relay's meaning). Empty with no Credentials means open (no auth).
	AuthToken string `yaml:"-"`
	// Credentials, when set, admits further tokens with a Scope (phones:
	// controller or viewer). It is consulted after AuthToken. Lookup must be
	// safe for concurrent use and should compare in constant time.
	Credentials Credentials `yaml:"-"`
	// RateLimit is inbound frames per second per connection (MESH_RATE_LIMIT, 50). Negative disables.
	RateLimit int `yaml:"rate_limit"`
	// MaxSize is the largest inbound frame in bytes (MESH_MAX_SIZE, 262144).
	MaxSize int64 `yaml:"max_size"`
	// MaxConnections caps open sockets (MESH_MAX_CONNECTIONS, 2000).
	MaxConnections int `yaml:"max_connections"`
	// MaxPendingPerIP caps unidentified sockets per client IP (MESH_MAX_PENDING_PER_IP, 10).
	MaxPendingPerIP int `yaml:"max_pending_per_ip"`
	// TrustedProxies are peers whose X-Real-IP / X-Forwarded-For are believed (MESH_TRUSTED_PROXIES).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// AllowedOrigins for browser Origin headers (MESH_ALLOWED_ORIGINS,
	// "http://127.0.0.1,http://localhost"); exact match after normalising.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AuthTimeout: time to identify (5s).
	AuthTimeout time.Duration `yaml:"auth_timeout"`
	// RouteTimeout: time a route_msg target has to answer (5s).
	RouteTimeout time.Duration `yaml:"route_timeout"`
	// MaxOutstandingRoutes per client (16).
	MaxOutstandingRoutes int `yaml:"max_outstanding_routes"`
	// SendTimeout: a peer whose queue stays full this long is reaped (2s).
	SendTimeout time.Duration `yaml:"send_timeout"`
	// PingInterval / PingTimeout: WebSocket keepalive (20s / 20s).
	PingInterval time.Duration `yaml:"ping_interval"`
	PingTimeout  time.Duration `yaml:"ping_timeout"`
	// QueueSize: frames buffered per connection before the overflow policy applies.
	QueueSize int `yaml:"queue_size"`
	// LenientNames accepts identity names outside the §4.4 grammar (legacy layouts).
	LenientNames bool `yaml:"lenient_names"`
	// BroadcastRoles / RouteRoles / MonitorRoles override the role default sets (§5).
	BroadcastRoles []string `yaml:"broadcast_roles"`
	RouteRoles     []string `yaml:"route_roles"`
	MonitorRoles   []string `yaml:"monitor_roles"`

	// PipeRateLimit is the inbound frame rate limit for in-process members
	// (Pipe): frames per second, 0 = the default (1000), negative disables
	// (MESHBOX_PIPE_RATE_LIMIT). In-process members are trusted code that may
	// publish many sensors, so they get a higher ceiling than sockets; it still
	// exists so a runaway loop cannot flood every phone.
	PipeRateLimit int `yaml:"pipe_rate_limit"`
	// PreAuthMaxSize is the largest frame read before identify (4096): an
	// unidentified socket cannot make the relay read or parse more.
	PreAuthMaxSize int64 `yaml:"preauth_max_size"`
	// MaxPending caps unidentified sockets in total (MESH_MAX_PENDING, 128),
	// well below MaxConnections; when full, the oldest unidentified socket is
	// closed to make room (4429), so a flood from many addresses cannot lock
	// phones out.
	MaxPending int `yaml:"max_pending"`
	// AuthFailures is how many refused tokens one client IP may send before
	// it is blocked (10); the block starts at AuthFailBlock (1s) and doubles
	// with each further failure, up to 5 minutes. Negative disables.
	AuthFailures  int           `yaml:"auth_failures"`
	AuthFailBlock time.Duration `yaml:"auth_fail_block"`

	// MemoryLimitMB, when > 0, is the process's soft memory limit in MiB
	// (runtime/debug.SetMemoryLimit: the GC works harder near it instead of
	// growing the heap), applied by New unless GOMEMLIMIT already set one.
	MemoryLimitMB int `yaml:"memory_limit_mb"`

	// QueueBytes caps the bytes queued per connection (4 MiB); together with
	// QueueSize it bounds the memory a slow consumer can pin.
	QueueBytes int64 `yaml:"queue_bytes"`
}

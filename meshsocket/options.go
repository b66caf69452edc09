package meshsocket

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/meshbox/meshbox/internal/wire"
)

// Frame is one MeshSocket message (see package wire).
type Frame = wire.Frame

// Handler handles an inbound frame of one type. A non-nil reply is sent
// back as the answer (type = the request's type, reply_to = its id); a
// json.RawMessage reply is sent verbatim, anything else is JSON-encoded. A
// non-nil error is answered with {"error": err.Error(), "status": "failed"}.
// ctx is cancelled when the connection the frame came from goes away.
type Handler func(ctx context.Context, f Frame) (reply any, err error)

// Options configures a Client. Zero values mean the documented defaults.
type Options struct {
	// URL of the relay, ws:// or wss://. Required unless Dial is set.
	URL string

	// Identity (§4.2). Name defaults to "node-<8 hex>" chosen once by New
	// (so two unnamed clients never evict each other). Empty Channel,
	// Role and BroadcastScope are not sent (the relay defaults them);
	// nil flags are not sent (role defaults apply). Token is sent as
	// "token" (JSON null when empty).
	Name                 string
	Token                string
	Channel              string
	Role                 string
	BroadcastScope       string
	CanBroadcast         *bool
	CanRoute             *bool
	CanMonitor           *bool
	CanCrossChannelRoute *bool

	// Dial opens a transport to the relay, e.g. the relay's in-process
	// pipe. Default: DialWebSocket(ctx, URL, WebSocket).
	Dial func(ctx context.Context) (wire.Transport, error)
	// WebSocket configures the default dialer.
	WebSocket WebSocketOptions
	// TLSConfig and CAFile are shorthands for WebSocket.TLSConfig/CAFile.
	TLSConfig *tls.Config
	CAFile    string
	// Header is sent with the WebSocket upgrade request.
	Header http.Header

	// MaxOfflineBuffer bounds the RAM queue of frames sent while not
	// admitted. 0 with no OfflineFile: Send fails with ErrNotConnected
	// while offline.
	MaxOfflineBuffer int
	// OfflineFile spills the RAM queue to this file (0600, JSON lines)
	// when it is full; with MaxOfflineBuffer 0 every offline frame goes to
	// the file. Replayed (and removed) after the next welcome.
	OfflineFile string

	// OnConnect runs after each admission, once the offline buffer has been
	// flushed; OnDisconnect runs once when that admitted connection ends.
	// They run on the connection's goroutine: keep them short, and do not
	// call Close from them (Close waits for that goroutine). Send and
	// Request may be used from OnConnect.
	OnConnect    func(id string)
	OnDisconnect func(err error)

	// PingInterval / PingTimeout: WebSocket keepalive (30 s / 10 s).
	// Negative PingInterval disables it. Transports that do not implement
	// Pinger have no keepalive.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// WelcomeTimeout: how long to wait for welcome after identify (10 s).
	WelcomeTimeout time.Duration
	// RequestTimeout applies to Request when ctx has no deadline (5 s).
	RequestTimeout time.Duration
	// DialTimeout bounds one dial (10 s).
	DialTimeout time.Duration
	// MinBackoff / MaxBackoff: reconnect delay, doubling (2 s / 30 s).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// NoReconnect makes Run return after the first connection attempt or
	// connection ends (command-line tools).
	NoReconnect bool
	// ReplayRate paces the offline replay after welcome, in frames per
	// second (default 40: under the reference relay's 50 frames/s
	// inbound limit, which closes the connection with 1008 when exceeded).
	// Negative: no pacing.
	ReplayRate int
	// MaxInflight bounds queued and running handler calls (64); the reader
	// waits when they are all busy (backpressure).
	MaxInflight int

	// Logger receives connection events (nil: discard). The token and the
	// URL's path and query are never logged.
	Logger *slog.Logger
}

// Bool returns a pointer to b, for the Options flags.
func Bool(b bool) *bool { return &b }

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.PingInterval, 30*time.Second)
	def(&o.PingTimeout, 10*time.Second)
	def(&o.WelcomeTimeout, 10*time.Second)
	def(&o.RequestTimeout, 5*time.Second)
	def(&o.DialTimeout, 10*time.Second)
	def(&o.MinBackoff, 2*time.Second)
	def(&o.MaxBackoff, 30*time.Second)
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.ReplayRate == 0 {
		o.ReplayRate = 40
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = 64
	}
	if o.MaxOfflineBuffer < 0 {
		o.MaxOfflineBuffer = 0
	}
	if o.WebSocket.TLSConfig == nil {
		o.WebSocket.TLSConfig = o.TLSConfig
	}
	if o.WebSocket.CAFile == "" {
		o.WebSocket.CAFile = o.CAFile
	}
	if o.WebSocket.Header == nil {
		o.WebSocket.Header = o.Header
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// identifyPayload builds the §4.2 identify payload the way the Python
// client does.
func (o *Options) identifyPayload() map[string]any {
	p := map[string]any{"name": o.Name, "token": nil}
	if o.Token != "" {
		p["token"] = o.Token
	}
	if o.Channel != "" {
		p["channel"] = o.Channel
	}
	if o.Role != "" {
		p["role"] = o.Role
	}
	if o.BroadcastScope != "" {
		p["broadcast_scope"] = o.BroadcastScope
	}
	flag := func(k string, v *bool) {
		if v != nil {
			p[k] = *v
		}
	}
	flag("can_broadcast", o.CanBroadcast)
	flag("can_route", o.CanRoute)
	flag("can_monitor", o.CanMonitor)
	flag("can_cross_channel_route", o.CanCrossChannelRoute)
	return p
}

package links

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/meshbox/meshbox/internal/bridge"
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/wire"
	"github.com/meshbox/meshbox/meshsocket"
)

// DefaultQueue is how many frames may wait for a slow upstream before the
// connection is dropped and re-established.
const DefaultQueue = 1024

// Upstream says how the bridge joins an upstream relay.
type Upstream struct {
	URL     string // ws:// or wss://
	Token   string
	Name    string // member name on the upstream relay
	Channel string
	CAFile  string // extra CA for wss://
	// Prefix is put in front of every control id on this link ("" for
	// none). UpstreamFromConfig sets "<Name>.".
	Prefix string
	// Queue bounds the frames waiting to be written (DefaultQueue).
	Queue int
	// Client adjusts the meshsocket options (tests: backoff); may be nil.
	Client func(*meshsocket.Options)
	// Cipher, in an encrypted room (e2ee: true), seals everything the link
	// sends and opens what it acts on: only envelopes leave for the
	// upstream relay. nil: clear text.
	Cipher bridge.Cipher
	// Tabs are this box's layout tabs, ids prefixed, announced to the hub
	// (bridge.JoinOptions.Tabs); nil announces none.
	Tabs []byte
}

// UpstreamFromConfig returns the upstream: section with its defaults (the
// config fills Name and Channel from the box's) and the "<name>." prefix.
func UpstreamFromConfig(cfg *config.Config) (Upstream, bool) {
	u := cfg.Upstream
	if u == nil {
		return Upstream{}, false
	}
	up := Upstream{URL: u.URL, Token: u.Token, Name: u.Name, Channel: u.Channel, CAFile: u.CAFile}
	if up.Name == "" {
		up.Name = cfg.Name
	}
	if up.Name == "" {
		up.Name = config.DefaultName
	}
	if up.Channel == "" {
		up.Channel = cfg.Channel
	}
	up.Prefix = up.Name + "."
	if u.IDPrefix != nil {
		up.Prefix = *u.IDPrefix
	}
	return up, true
}

// Check reports a URL or CA file that cannot work.
func (up Upstream) Check() error {
	if _, err := meshsocket.ValidateURL(up.URL); err != nil {
		return fmt.Errorf("upstream.url: %w", err)
	}
	if up.CAFile != "" {
		if _, err := meshsocket.LoadCAFile(up.CAFile); err != nil {
			return fmt.Errorf("upstream.ca_file: %w", err)
		}
	}
	return nil
}

// JoinUpstream makes b a member of the upstream relay and returns at once;
// the link connects, and reconnects with backoff, in the background. stop
// leaves the relay.
func JoinUpstream(b *bridge.Bridge, up Upstream, log *slog.Logger) (stop func(), err error) {
	if err := up.Check(); err != nil {
		return nil, err
	}
	if up.Queue <= 0 {
		up.Queue = DefaultQueue
	}
	log = log.With("component", "upstream", "name", up.Name)
	log.Info("upstream: joining", "relay", meshsocket.SafeURL(up.URL), "channel", up.Channel, "prefix", up.Prefix)
	if up.Name == config.DefaultName {
		log.Warn("upstream: this box uses the default name \"meshbox\"; every box on one upstream relay needs its own name: (a same-name box evicts it)")
	}
	ns := newNamespace(up.Prefix)
	var cipher bridge.Cipher
	if up.Cipher != nil {
		ns.sealed = true
		cipher = sealedCipher{Cipher: up.Cipher, ns: ns}
	}
	jo := bridge.JoinOptions{
		URL: up.URL, Token: up.Token, Name: up.Name, Channel: up.Channel, Logger: log, Prefix: up.Prefix, Cipher: cipher, Tabs: up.Tabs,
		Client: func(o *meshsocket.Options) {
			o.CAFile = up.CAFile
			o.OnDisconnect = func(err error) {
				var ce *wire.CloseError
				if errors.Is(err, context.Canceled) || errors.Is(err, meshsocket.ErrClosed) {
					return
				}
				if errors.As(err, &ce) && ce.Code == 1000 {
					log.Error("upstream relay closed the link (1000): another member joined with the same name (give each box its own name:), or the relay dropped a slow link", "err", err)
					return
				}
				log.Warn("upstream link lost; reconnecting with backoff", "err", err)
			}
			if up.Client != nil {
				up.Client(o)
			}
			ws, url := o.WebSocket, o.URL
			if ws.CAFile == "" {
				ws.CAFile = o.CAFile
			}
			if ws.TLSConfig == nil {
				ws.TLSConfig = o.TLSConfig
			}
			o.Dial = func(ctx context.Context) (wire.Transport, error) {
				t, err := meshsocket.DialWebSocket(ctx, url, ws)
				if err != nil {
					return nil, err
				}
				return newQueuedTransport(t, ns, up.Queue, log), nil
			}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu     sync.Mutex
		member *bridge.Member
		wg     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Join waits for the first admission only briefly; the client
		// keeps trying in the background.
		jctx, jcancel := context.WithTimeout(ctx, 5*time.Second)
		defer jcancel()
		m, err := b.Join(jctx, jo)
		if err != nil {
			log.Error("upstream: cannot join", "err", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			_ = m.Close()
			return
		}
		member = m
	}()
	return func() {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if member != nil {
			_ = member.Close()
			member = nil
		}
	}, nil
}

package meshsocket

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/meshbox/meshbox/internal/wire"
)

// WebSocketOptions configures DialWebSocket. The zero value is usable.
type WebSocketOptions struct {
	// TLSConfig is used for wss:// (nil: system roots, or CAFile).
	TLSConfig *tls.Config
	// CAFile is a PEM file of CA certificates to trust for wss:// instead of
	// the system roots. Ignored when TLSConfig is set.
	CAFile string
	// Header is sent with the upgrade request.
	Header http.Header
	// HandshakeTimeout bounds the TCP+TLS+upgrade (default 10 s).
	HandshakeTimeout time.Duration
	// ReadLimit is the largest inbound message in bytes (default 8 MiB).
	ReadLimit int64
	// WriteTimeout bounds a write whose context has no deadline (default 10 s).
	WriteTimeout time.Duration
}

const (
	defaultHandshakeTimeout = 10 * time.Second
	defaultReadLimit        = 8 << 20
	defaultWriteTimeout     = 10 * time.Second
)

// Pinger is implemented by transports that can probe liveness (a WebSocket
// ping answered by a pong). The client's keepalive uses it when present.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ValidateURL checks that raw is a ws:// or wss:// URL with a host.
func ValidateURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("relay url: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("relay url %s: scheme must be ws or wss", SafeURL(raw))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("relay url %s: missing host", SafeURL(raw))
	}
	return u, nil
}

// SafeURL returns scheme://host of raw, for logs: never the path or query,
// which may carry a token.
func SafeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "<unparseable url>"
	}
	return u.Scheme + "://" + u.Host
}

// LoadCAFile reads a PEM bundle into a certificate pool.
func LoadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca file %s: no PEM certificates", path)
	}
	return pool, nil
}

// DialWebSocket opens a WebSocket to a relay and returns it as a
// wire.Transport (which also implements Pinger). Close frames from the
// relay are reported as *wire.CloseError.
func DialWebSocket(ctx context.Context, rawURL string, opts WebSocketOptions) (wire.Transport, error) {
	if _, err := ValidateURL(rawURL); err != nil {
		return nil, err
	}
	tlsConf := opts.TLSConfig
	if tlsConf == nil && opts.CAFile != "" {
		pool, err := LoadCAFile(opts.CAFile)
		if err != nil {
			return nil, err
		}
		tlsConf = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	hs := opts.HandshakeTimeout
	if hs <= 0 {
		hs = defaultHandshakeTimeout
	}
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		TLSClientConfig:  tlsConf,
		HandshakeTimeout: hs,
	}
	conn, resp, err := d.DialContext(ctx, rawURL, opts.Header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %s)", SafeURL(rawURL), err, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", SafeURL(rawURL), err)
	}
	return WrapWebSocket(conn, opts), nil
}

// WrapWebSocket turns an open gorilla connection into a wire.Transport
// (and Pinger). The transport owns conn from now on.
func WrapWebSocket(conn *websocket.Conn, opts WebSocketOptions) wire.Transport {
	limit := opts.ReadLimit
	if limit <= 0 {
		limit = defaultReadLimit
	}
	wt := opts.WriteTimeout
	if wt <= 0 {
		wt = defaultWriteTimeout
	}
	conn.SetReadLimit(limit)
	t := &wsTransport{conn: conn, writeTimeout: wt, pongs: map[string]chan struct{}{}}
	conn.SetPongHandler(t.onPong)
	return t
}

// wsTransport adapts *websocket.Conn to wire.Transport.
type wsTransport struct {
	// Immutable after WrapWebSocket.
	conn         *websocket.Conn
	writeTimeout time.Duration

	closeOnce sync.Once
	pingSeq   atomic.Uint64

	mu    sync.Mutex               // guards pongs
	pongs map[string]chan struct{} // ping payload -> closed on its pong
}

func (t *wsTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// gorilla has no context: a cancelled ctx expires the read deadline,
	// which breaks the connection for good (fine: cancelling a read means
	// tearing the transport down).
	stop := context.AfterFunc(ctx, func() { _ = t.conn.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		typ, msg, err := t.conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, mapCloseError(err)
		}
		if typ == websocket.TextMessage || typ == websocket.BinaryMessage {
			return msg, nil
		}
	}
}

func mapCloseError(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return &wire.CloseError{Code: ce.Code, Reason: ce.Text}
	}
	return err
}

func (t *wsTransport) WriteMessage(ctx context.Context, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(t.writeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := t.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	// gorilla's SetWriteDeadline is not goroutine-safe; the net.Conn's is.
	// Cancelling is best effort, bounded by the write deadline anyway.
	stop := context.AfterFunc(ctx, func() { _ = t.conn.UnderlyingConn().SetWriteDeadline(time.Now()) })
	defer stop()
	if err := t.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return mapCloseError(err)
	}
	return nil
}

// Ping sends a WebSocket ping and waits for its pong. Pongs are processed
// by the goroutine blocked in ReadMessage, so someone must be reading.
func (t *wsTransport) Ping(ctx context.Context) error {
	payload := strconv.FormatUint(t.pingSeq.Add(1), 10)
	ch := make(chan struct{})
	t.mu.Lock()
	t.pongs[payload] = ch
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.pongs, payload)
		t.mu.Unlock()
	}()
	deadline := time.Now().Add(t.writeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := t.conn.WriteControl(websocket.PingMessage, []byte(payload), deadline); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pong timeout: %w", ctx.Err())
	}
}

func (t *wsTransport) onPong(data string) error {
	t.mu.Lock()
	ch, ok := t.pongs[data]
	if ok {
		delete(t.pongs, data)
	}
	t.mu.Unlock()
	if ok {
		close(ch)
	}
	return nil
}

// Close sends a normal close frame (1000, best effort, 1 s) and closes the
// socket. Safe to call more than once and concurrently with reads/writes.
func (t *wsTransport) Close() error {
	var err error
	t.closeOnce.Do(func() {
		_ = t.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		err = t.conn.Close()
	})
	return err
}

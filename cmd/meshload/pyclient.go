package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	neturl "net/url"
	"strings"
	"sync"
	"time"
)

// pyMember is a member that joins the way the reference Python client does
// over Python websockets 10.4 (its transport): the same upgrade request,
// header for header and in that order (captured from websockets 10.4), the
// identify right after the 101, and a keepalive ping every 20 s (the
// library's ping_interval). Frames are masked client frames; no extension
// is used (the relay does not accept permessage-deflate).
type pyMember struct {
	nc net.Conn
	br *bufio.Reader

	wmu sync.Mutex // one frame at a time on the wire
}

// pyUpgrade is websockets 10.4's client request (Python 3.11).
const pyUpgrade = "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"User-Agent: Python/3.11 websockets/10.4\r\n\r\n"

const pyPingInterval = 20 * time.Second

func pyJoin(ctx context.Context, rawURL, token, name, channel string) (*pyMember, error) {
	u, err := neturl.Parse(rawURL)
	if err != nil || u.Scheme != "ws" {
		return nil, fmt.Errorf("-client python needs a ws:// URL (got %q)", rawURL)
	}
	path := u.RequestURI()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	if _, err := fmt.Fprintf(nc, pyUpgrade, path, u.Host, key); err != nil {
		nc.Close()
		return nil, err
	}
	m := &pyMember{nc: nc, br: bufio.NewReaderSize(nc, 4096)}
	if err := m.readUpgrade(key); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: upgrade: %w", name, err)
	}
	p := map[string]any{"name": name, "token": token, "channel": channel, "role": "controller",
		"can_broadcast": true, "can_route": false, "can_monitor": false}
	b, _ := json.Marshal(map[string]any{"id": name + "-identify", "type": "identify", "payload": p, "reply_to": nil})
	if err := m.write(0x1, b); err != nil {
		nc.Close()
		return nil, err
	}
	for {
		op, msg, err := m.read()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("%s: identify: %w", name, err)
		}
		var f struct{ Type string }
		if op == 0x1 && json.Unmarshal(msg, &f) == nil && f.Type == "welcome" {
			_ = nc.SetDeadline(time.Time{})
			return m, nil
		}
	}
}

func (m *pyMember) readUpgrade(key string) error {
	tp := textproto.NewReader(m.br)
	line, err := tp.ReadLine()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "HTTP/1.1 101") {
		return fmt.Errorf("status %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return err
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if h.Get("Sec-Websocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return errors.New("bad Sec-WebSocket-Accept")
	}
	return nil
}

// write sends one masked frame.
func (m *pyMember) write(op byte, p []byte) error {
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	b := make([]byte, 0, 14+len(p))
	b = append(b, 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, mask[:]...)
	for i, c := range p {
		b = append(b, c^mask[i&3])
	}
	m.wmu.Lock()
	defer m.wmu.Unlock()
	_, err := m.nc.Write(b)
	return err
}

// read returns the next whole message (server frames are unmasked; a
// fragmented message is joined).
func (m *pyMember) read() (byte, []byte, error) {
	var msg []byte
	var first byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(m.br, h[:]); err != nil {
			return 0, nil, err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var x [2]byte
			if _, err := io.ReadFull(m.br, x[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(x[:]))
		case 127:
			var x [8]byte
			if _, err := io.ReadFull(m.br, x[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(x[:])
		}
		if n > 16<<20 {
			return 0, nil, errors.New("frame too large")
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(m.br, p); err != nil {
			return 0, nil, err
		}
		op := h[0] & 0x0f
		if op >= 0x8 { // control frames may come between fragments
			return op, p, nil
		}
		if op != 0 {
			first = op
		}
		msg = append(msg, p...)
		if h[0]&0x80 != 0 {
			return first, msg, nil
		}
	}
}

// serve answers the relay's pings, sends a keepalive ping every 20 s, and
// calls onText for each text message, until the connection ends.
func (m *pyMember) serve(onText func([]byte)) {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(pyPingInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var p [4]byte
				_, _ = rand.Read(p[:])
				if m.write(0x9, p[:]) != nil {
					return
				}
			}
		}
	}()
	for {
		op, p, err := m.read()
		if err != nil {
			return
		}
		switch op {
		case 0x9:
			_ = m.write(0xA, p)
		case 0x8:
			_ = m.write(0x8, p[:min(len(p), 2)])
			return
		case 0x1:
			onText(p)
		}
	}
}

func (m *pyMember) sendText(b []byte) error { return m.write(0x1, b) }
func (m *pyMember) close()                  { _ = m.nc.Close() }

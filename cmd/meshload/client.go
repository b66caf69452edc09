package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// member is one load client.
type member struct {
	ws *websocket.Conn
	id string
}

// join dials and identifies, waiting for welcome.
func join(ctx context.Context, url, token, name, channel, role string, extra map[string]any) (*member, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	p := map[string]any{"name": name, "token": token, "channel": channel, "role": role}
	for k, v := range extra {
		p[k] = v
	}
	b, _ := json.Marshal(map[string]any{"id": name + "-identify", "type": "identify", "payload": p, "reply_to": nil})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, fmt.Errorf("%s: identify: %w", name, err)
		}
		var f struct {
			Type    string
			Payload struct{ ID string }
		}
		if json.Unmarshal(msg, &f) == nil && f.Type == "welcome" {
			_ = ws.SetReadDeadline(time.Time{})
			return &member{ws: ws, id: f.Payload.ID}, nil
		}
	}
}

// readInto reads the next message into buf (reused), returning it.
func (m *member) readInto(buf []byte) ([]byte, error) {
	_, r, err := m.ws.NextReader()
	if err != nil {
		return nil, err
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			return buf, err
		}
	}
}

// parseLoad extracts seq and ts from a load broadcast without a JSON parse.
// It tolerates whitespace around the colons, so it reads the Python
// reference relay's json.dumps output ("type": "broadcast") as well.
func parseLoad(msg []byte) (seq, ts int64, ok bool) {
	v := valueAfter(msg[:min(len(msg), 96)], `"type"`)
	if !bytes.HasPrefix(v, []byte(`"broadcast"`)) {
		return 0, 0, false
	}
	seq, ok1 := intAfter(msg, `"seq"`)
	ts, ok2 := intAfter(msg, `"ts"`)
	return seq, ts, ok1 && ok2
}

// valueAfter returns msg after the first `key` followed by optional
// spaces, a colon and optional spaces; nil when there is none.
func valueAfter(msg []byte, key string) []byte {
	for off := 0; ; {
		i := bytes.Index(msg[off:], []byte(key))
		if i < 0 {
			return nil
		}
		rest := bytes.TrimLeft(msg[off+i+len(key):], " \t")
		if len(rest) > 0 && rest[0] == ':' {
			return bytes.TrimLeft(rest[1:], " \t")
		}
		off += i + len(key)
	}
}

func intAfter(msg []byte, key string) (int64, bool) {
	v := valueAfter(msg, key)
	k := 0
	for k < len(v) && v[k] >= '0' && v[k] <= '9' {
		k++
	}
	n, err := strconv.ParseInt(string(v[:k]), 10, 64)
	return n, err == nil
}

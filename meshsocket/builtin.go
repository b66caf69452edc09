package meshsocket

import (
	"context"
	"encoding/json"
	"time"
)

// builtin returns the reference client's housekeeping handlers (§6.9):
// ping → "pong", handshake → {server_id, l}, status_request → status.
func (c *Client) builtin(typ string) Handler {
	switch typ {
	case "ping":
		return func(context.Context, Frame) (any, error) { return "pong", nil }
	case "handshake":
		return func(_ context.Context, f Frame) (any, error) {
			var p struct {
				T float64 `json:"t"`
			}
			_ = json.Unmarshal(f.Payload, &p)
			now := float64(time.Now().UnixNano()) / 1e9
			l := 0.0
			if p.T > 0 {
				l = now - p.T
			}
			return map[string]any{"server_id": c.ID(), "l": l}, nil
		}
	case "status_request":
		return func(context.Context, Frame) (any, error) {
			c.mu.Lock()
			var up float64
			if c.cur != nil {
				up = time.Since(c.cur.start).Seconds()
			}
			c.mu.Unlock()
			return map[string]any{
				"name": c.opts.Name, "id": c.ID(), "status": "online",
				"uptime": up, "memory_usage": "unknown",
			}, nil
		}
	}
	return nil
}

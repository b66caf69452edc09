package meshsocket

import (
	"context"
	"encoding/json"
	"fmt"
)

// Broadcast sends a broadcast_request (fire-and-forget; the relay fans it
// out as "broadcast" to the channel, or every channel for global scope).
func (c *Client) Broadcast(ctx context.Context, payload any) error {
	return c.Send(ctx, "broadcast_request", payload)
}

// Route sends a route_msg request to the client with relay id targetID and
// returns the target's reply payload (or the relay's failed reply as a
// *FailedError).
func (c *Client) Route(ctx context.Context, targetID, typ string, payload any) (json.RawMessage, error) {
	p, err := encodePayload(payload)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = json.RawMessage("null")
	}
	out, err := c.Request(ctx, "route_msg", map[string]any{"target_id": targetID, "type": typ, "payload": p})
	if err != nil {
		return nil, err
	}
	if err := CheckReply(out); err != nil {
		return out, err
	}
	return out, nil
}

// Node is one roster entry (get_nodes, server_client_list).
type Node struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Channel string `json:"channel"`
	Role    string `json:"role"`
}

// Nodes asks the relay for its roster (get_nodes). The relay returns an
// empty list unless this client has can_monitor.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	out, err := c.Request(ctx, "get_nodes", nil)
	if err != nil {
		return nil, err
	}
	if err := CheckReply(out); err != nil {
		return nil, err
	}
	var r struct {
		Clients []Node `json:"clients"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("get_nodes reply: %w", err)
	}
	return r.Clients, nil
}

// Package wire defines the MeshSocket frame and the message transport shared by
// the relay, the Go client (package meshsocket) and the bridge.
//
// A frame is one JSON object {"id","type","payload","reply_to"}. Payloads are
// kept as json.RawMessage and forwarded byte for byte, so integers and E2EE
// envelopes are never re-encoded.
package wire

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// Frame is one MeshSocket message. ReplyTo is empty for a non-reply; it is
// encoded as JSON null. Payload is nil for a null payload.
type Frame struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
	ReplyTo string          `json:"reply_to"`
}

// NewID returns a fresh random (version 4) UUID string.
func NewID() string { return uuid.NewString() }

// Transport carries whole messages (one encoded frame each) in both
// directions. A WebSocket is one Transport; the relay's in-process pipe is
// another. ReadMessage and WriteMessage may be called concurrently with each
// other, but each by one goroutine at a time. Close may be called at any time
// and more than once.
type Transport interface {
	ReadMessage(ctx context.Context) ([]byte, error)
	WriteMessage(ctx context.Context, msg []byte) error
	Close() error
}

// CloseError reports that the peer closed the transport with a WebSocket close
// code (1008 "unauthorized", 4429 "Too many connections", ...).
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("closed with code %d", e.Code)
	}
	return fmt.Sprintf("closed with code %d (%s)", e.Code, e.Reason)
}

package meshsocket

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/meshbox/meshbox/internal/wire"
)

var (
	// ErrNotConnected: Send while not admitted and offline buffering is off.
	ErrNotConnected = errors.New("meshsocket: not connected")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("meshsocket: client closed")
	// ErrDisconnected: the connection ended before the reply arrived.
	ErrDisconnected = errors.New("meshsocket: connection lost before the reply")
	// ErrRunning: Run or Start was called twice.
	ErrRunning = errors.New("meshsocket: client already running")
)

// RefusedError reports a connection attempt that reached the relay but was
// not admitted: closed before welcome (e.g. 1008 unauthorized) or no
// welcome in time.
type RefusedError struct {
	Err error
}

func (e *RefusedError) Error() string {
	var ce *wire.CloseError
	if errors.As(e.Err, &ce) {
		if ce.Reason == "" {
			return fmt.Sprintf("relay refused identify: %d", ce.Code)
		}
		return fmt.Sprintf("relay refused identify: %d %s", ce.Code, ce.Reason)
	}
	return "relay refused identify: " + e.Err.Error()
}

func (e *RefusedError) Unwrap() error { return e.Err }

// FailedError is a reply payload of the form {"error": ..., "status": "failed"}
// (relay errors such as "Target not found", or a handler's error).
type FailedError struct {
	Reason string
}

func (e *FailedError) Error() string { return "request failed: " + e.Reason }

// CheckReply returns a *FailedError when payload is a failed-status object
// (§9), nil otherwise.
func CheckReply(payload json.RawMessage) error {
	var p struct {
		Status string `json:"status"`
		Error  any    `json:"error"`
	}
	if len(payload) == 0 || payload[0] != '{' || json.Unmarshal(payload, &p) != nil || p.Status != "failed" {
		return nil
	}
	reason, ok := p.Error.(string)
	if !ok {
		reason = "unknown error"
	}
	return &FailedError{Reason: reason}
}

package bridge

import "encoding/json"

// Cipher is an encrypted room's codec (internal/e2ee.Codec): a member
// seals every payload it sends with it and acts only on what opens with it.
type Cipher interface {
	// Seal returns the envelope that carries v.
	Seal(v any) (json.RawMessage, error)
	// Open returns the plaintext of a received payload; ok is false when
	// it must be ignored (plaintext, wrong key, replayed, the member's
	// own). what names the frame for the codec's log.
	Open(what string, raw json.RawMessage) (pt json.RawMessage, ok bool)
}

package wire

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrNotObject is returned by Decode for valid JSON that is not an object.
var ErrNotObject = errors.New("frame is not a JSON object")

// Decode parses one frame. Missing keys read as empty (the reference reads
// with .get()); a non-string id, type or reply_to reads as empty too.
func Decode(msg []byte) (Frame, error) {
	var raw struct {
		ID      json.RawMessage `json:"id"`
		Type    json.RawMessage `json:"type"`
		Payload json.RawMessage `json:"payload"`
		ReplyTo json.RawMessage `json:"reply_to"`
	}
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 || msg[0] != '{' {
		if json.Valid(msg) {
			return Frame{}, ErrNotObject
		}
		return Frame{}, errors.New("frame is not valid JSON")
	}
	if err := json.Unmarshal(msg, &raw); err != nil {
		return Frame{}, err
	}
	f := Frame{ID: str(raw.ID), Type: str(raw.Type), ReplyTo: str(raw.ReplyTo)}
	if len(raw.Payload) > 0 && !bytes.Equal(raw.Payload, []byte("null")) {
		f.Payload = raw.Payload
	}
	return f, nil
}

func str(b json.RawMessage) string {
	if len(b) == 0 || b[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		return ""
	}
	return s
}

// Encode returns the frame as compact JSON with all four keys.
func Encode(f Frame) []byte { return AppendEncode(nil, f) }

// AppendEncode appends the encoded frame to dst. The payload is copied
// verbatim (it must already be valid JSON; nil is written as null).
func AppendEncode(dst []byte, f Frame) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, f.ID)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, f.Type)
	dst = append(dst, `,"payload":`...)
	if len(f.Payload) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, f.Payload...)
	}
	dst = append(dst, `,"reply_to":`...)
	if f.ReplyTo == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONString(dst, f.ReplyTo)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string. strconv.AppendQuote is not
// JSON (it emits \x escapes), so anything but plain ASCII goes through
// encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

package relay

import (
	"bytes"
	"encoding/json"

	"github.com/meshbox/meshbox/internal/wire"
)

// inFrame is an inbound frame as the relay dispatches it: the decoded
// wire.Frame plus what the reference relay reads from the raw JSON that
// wire.Frame cannot hold.
//
// The reference (Python) keeps id and reply_to as whatever JSON value the
// client sent: it answers a request with reply_to set to the request's id
// verbatim (a raw client numbering its requests 1, 2, 3 gets reply_to 1,
// 2, 3 back), and it treats a frame as a reply whenever reply_to is truthy,
// string or not (so {"reply_to": 5} is a stray reply and dropped, never
// dispatched as a request).
type inFrame struct {
	wire.Frame
	// rawID is the compact JSON of a non-string, non-null id (or of an
	// empty-string id), echoed verbatim as reply_to; nil when Frame.ID
	// holds the id or there is none.
	rawID []byte
	// isReply: reply_to is truthy in the reference's sense.
	isReply bool
}

// decodeFrame decodes msg. The second JSON pass runs only for frames whose
// id or reply_to is not a plain string or null, which well-behaved clients
// never send, so the hot path costs one byte scan.
func decodeFrame(msg []byte) (inFrame, error) {
	f, err := wire.Decode(msg)
	if err != nil {
		return inFrame{}, err
	}
	in := inFrame{Frame: f, isReply: f.ReplyTo != ""}
	if in.isReply || (f.ID != "" && !oddValue(msg, `"reply_to"`)) {
		return in, nil // a string reply_to is a reply; the usual request
	}
	var raw struct {
		ID      json.RawMessage `json:"id"`
		ReplyTo json.RawMessage `json:"reply_to"`
	}
	if json.Unmarshal(msg, &raw) != nil {
		return in, nil
	}
	if f.ID == "" && len(raw.ID) > 0 && !isNull(raw.ID) {
		var b bytes.Buffer
		if json.Compact(&b, raw.ID) == nil {
			in.rawID = b.Bytes()
		}
	}
	in.isReply = truthy(raw.ReplyTo)
	return in, nil
}

// oddValue reports whether some "key": in msg is followed by a value that
// is neither a string nor null. Nested occurrences only cost the second,
// exact pass in decodeFrame.
func oddValue(msg []byte, key string) bool {
	for i := 0; ; {
		j := bytes.Index(msg[i:], []byte(key))
		if j < 0 {
			return false
		}
		k := skipBlank(msg, i+j+len(key))
		if k < len(msg) && msg[k] == ':' {
			k = skipBlank(msg, k+1)
			if k < len(msg) && msg[k] != '"' && msg[k] != 'n' {
				return true
			}
		}
		i += j + len(key)
	}
}

func skipBlank(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// truthy is Python's truth value of a JSON value: null, false, 0, "", []
// and {} are false, everything else is true.
func truthy(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case 'n', 'f':
		return false
	case 't':
		return true
	case '"':
		s, ok := jsonString(raw)
		return ok && s != ""
	case '[', '{':
		var v []json.RawMessage
		if raw[0] == '[' {
			return json.Unmarshal(raw, &v) == nil && len(v) > 0
		}
		var m map[string]json.RawMessage
		return json.Unmarshal(raw, &m) == nil && len(m) > 0
	}
	var n float64
	return json.Unmarshal(raw, &n) != nil || n != 0 // huge numbers overflow: non-zero
}

// replyFrame encodes a §3.1 reply to in: reply_to is the request's id as
// the client sent it.
func (s *Server) replyFrame(in inFrame, payload []byte) []byte {
	if in.rawID == nil {
		return s.frame(nil, in.Type, payload, in.ID)
	}
	return s.frameRawReplyTo(in.Type, payload, in.rawID)
}

// frameRawReplyTo is Server.frame with a reply_to that is already JSON.
func (s *Server) frameRawReplyTo(typ string, payload, rawReplyTo []byte) []byte {
	b := make([]byte, 0, 64+len(typ)+len(payload)+len(rawReplyTo))
	b = append(b, `{"id":"`...)
	b = s.ids.appendID(b)
	b = append(b, `","type":`...)
	b = wire.AppendString(b, typ)
	b = append(b, `,"payload":`...)
	if len(payload) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, payload...)
	}
	b = append(b, `,"reply_to":`...)
	b = append(b, rawReplyTo...)
	return append(b, '}')
}

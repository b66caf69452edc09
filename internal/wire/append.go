package wire

// AppendString appends s as a JSON string (the same escaping as Encode), for
// callers that build frames or payloads by hand on a hot path.
func AppendString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// AppendFrame appends an encoded frame whose id is written by appendID (a
// fresh id straight into the buffer, with no string allocation). payload nil
// is written as null, replyTo "" as null.
func AppendFrame(dst []byte, appendID func([]byte) []byte, typ string, payload []byte, replyTo string) []byte {
	dst = append(dst, `{"id":"`...)
	dst = appendID(dst)
	dst = append(dst, `","type":`...)
	dst = appendJSONString(dst, typ)
	dst = append(dst, `,"payload":`...)
	if len(payload) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, payload...)
	}
	dst = append(dst, `,"reply_to":`...)
	if replyTo == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONString(dst, replyTo)
	}
	return append(dst, '}')
}

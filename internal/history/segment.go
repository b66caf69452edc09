package history

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The segment format (docs/history.md):
//
//	file   := magic record*
//	magic  := "MBHIST1\n"
//	record := uint32le len | uint32le crc32c(payload) | payload[len]
//	payload:= byte kind (1) | raw DEFLATE of body
//	body   := uvarint nseries | { uvarint len | name | uvarint len | block }*
//
// One record is one flush of one tier: every series' new block. A record
// whose length runs past the end of the file or whose CRC does not match is
// a torn tail: it and everything after it are skipped (and truncated away
// before the next append).
const (
	segMagic      = "MBHIST1\n"
	recHeader     = 8
	kindBlocks    = 1
	maxRecord     = 16 << 20 // payload bytes
	maxRecordBody = 64 << 20 // decompressed
	maxNameLen    = 256
)

func crcTable() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// entry is one series' block in a record.
type entry struct {
	name string
	data []byte
}

// appendRecord frames entries as one record.
func appendRecord(dst []byte, entries []entry) []byte {
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(entries)))
	for _, e := range entries {
		body = binary.AppendUvarint(body, uint64(len(e.name)))
		body = append(body, e.name...)
		body = binary.AppendUvarint(body, uint64(len(e.data)))
		body = append(body, e.data...)
	}
	var z bytes.Buffer
	z.WriteByte(kindBlocks)
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	_, _ = w.Write(body)
	_ = w.Close()
	payload := z.Bytes()
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, crcTable()))
	return append(dst, payload...)
}

var errTorn = errors.New("history: torn or corrupt record")

// readSegment parses a segment file's bytes, calling fn for every entry of
// every intact record, and returns the length of the intact prefix. err is
// errTorn when a tail was skipped, or a format error for a foreign file.
func readSegment(data []byte, fn func(name string, b block)) (good int, err error) {
	if len(data) < len(segMagic) {
		if bytes.HasPrefix([]byte(segMagic), data) {
			return 0, errTorn
		}
		return 0, fmt.Errorf("history: not a history segment")
	}
	if string(data[:len(segMagic)]) != segMagic {
		return 0, fmt.Errorf("history: not a history segment")
	}
	tab := crcTable()
	off := len(segMagic)
	for off < len(data) {
		rest := data[off:]
		if len(rest) < recHeader {
			return off, errTorn
		}
		n := binary.LittleEndian.Uint32(rest)
		sum := binary.LittleEndian.Uint32(rest[4:])
		if n == 0 || n > maxRecord || uint64(n) > uint64(len(rest)-recHeader) {
			return off, errTorn
		}
		payload := rest[recHeader : recHeader+int(n)]
		if crc32.Checksum(payload, tab) != sum {
			return off, errTorn
		}
		entries, perr := parsePayload(payload)
		if perr != nil {
			return off, errTorn
		}
		for _, e := range entries {
			ts, cols, derr := decodeBlock(e.data)
			if derr != nil || len(ts) == 0 {
				continue
			}
			fn(e.name, block{first: ts[0], last: ts[len(ts)-1], n: len(ts), data: e.data})
			_ = cols
		}
		off += recHeader + int(n)
	}
	return off, nil
}

func parsePayload(p []byte) ([]entry, error) {
	if len(p) < 1 || p[0] != kindBlocks {
		return nil, errCorrupt
	}
	zr := flate.NewReader(bytes.NewReader(p[1:]))
	body, err := io.ReadAll(io.LimitReader(zr, maxRecordBody+1))
	if err != nil || len(body) > maxRecordBody {
		return nil, errCorrupt
	}
	r := reader{b: body}
	n := r.uvarint()
	if n > uint64(len(body)) {
		return nil, errCorrupt
	}
	out := make([]entry, 0, n)
	for range n {
		nl := r.uvarint()
		if nl > maxNameLen {
			return nil, errCorrupt
		}
		name := string(r.bytes(nl))
		data := r.bytes(r.uvarint())
		if r.err != nil {
			return nil, errCorrupt
		}
		out = append(out, entry{name: name, data: bytes.Clone(data)})
	}
	return out, nil
}

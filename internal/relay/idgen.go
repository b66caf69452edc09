package relay

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
)

// idGen makes frame ids: UUID-shaped (version 4 and variant bits set),
// unique within the process (a 62-bit counter under a random 64-bit prefix,
// so unique across restarts with overwhelming probability), and cheap enough
// for one per fan-out copy. Client ids (welcome) use real random UUIDs.
type idGen struct {
	prefix [19]byte // "xxxxxxxx-xxxx-4xxx-"
	ctr    atomic.Uint64
}

func newIDGen() *idGen {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = 0x40 | b[6]&0x0f
	g := &idGen{}
	hex.Encode(g.prefix[0:8], b[0:4])
	g.prefix[8] = '-'
	hex.Encode(g.prefix[9:13], b[4:6])
	g.prefix[13] = '-'
	hex.Encode(g.prefix[14:18], b[6:8])
	g.prefix[18] = '-'
	g.ctr.Store(binary.BigEndian.Uint64(b[8:]))
	return g
}

// appendID appends a fresh 36-character id to dst.
func (g *idGen) appendID(dst []byte) []byte { return g.appendN(dst, g.ctr.Add(1)) }

// idBlock is n consecutive ids reserved at once (one atomic add), handed
// out by one goroutine.
type idBlock struct {
	g    *idGen
	next uint64
}

// reserve reserves n ids.
func (g *idGen) reserve(n int) idBlock {
	end := g.ctr.Add(uint64(n))
	return idBlock{g: g, next: end - uint64(n) + 1}
}

func (b *idBlock) appendID(dst []byte) []byte {
	dst = b.g.appendN(dst, b.next)
	b.next++
	return dst
}

func (g *idGen) appendN(dst []byte, n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	b[0] = 0x80 | b[0]&0x3f
	var out [17]byte
	hex.Encode(out[0:4], b[0:2])
	out[4] = '-'
	hex.Encode(out[5:17], b[2:8])
	dst = append(dst, g.prefix[:]...)
	return append(dst, out[:]...)
}

func (g *idGen) next() string { return string(g.appendID(make([]byte, 0, 36))) }

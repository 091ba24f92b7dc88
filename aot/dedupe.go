package aot

import (
	"bytes"
	"hash/maphash"
)

// dedupeSpan is how far apart, in the data's seconds, two copies of a line
// may lie and still be found: the data is ordered by time, so an exact
// repeat (same timestamp) comes within the same second's lines. Lines are
// kept for one to two spans.
const dedupeSpan = 60

// dedupe finds exact repeats of a line among the lines of the last minute
// or two. Two different readings of one property in one second differ in
// their values, so both pass; only the repeat of the whole line is one
// reading. A line is remembered by a 64-bit hash and its bytes: equal hashes
// are compared byte by byte, so a collision never drops a reading.
type dedupe struct {
	seed      maphash.Seed
	cur, prev dedupeGen
	curStart  int64
	started   bool
}

// dedupeGen is the lines of one span: offsets into one arena.
type dedupeGen struct {
	m     map[uint64]int32
	ends  []int32 // ends[i] is where line i ends in arena; it starts at ends[i-1]
	arena []byte
}

func (g *dedupeGen) reset() {
	if g.m == nil {
		g.m = map[uint64]int32{}
	}
	clear(g.m)
	g.ends, g.arena = g.ends[:0], g.arena[:0]
}

func (g *dedupeGen) line(i int32) []byte {
	start := int32(0)
	if i > 0 {
		start = g.ends[i-1]
	}
	return g.arena[start:g.ends[i]]
}

// has reports whether the generation holds line, and whether its hash is
// taken (by line, or by another line with the same hash).
func (g *dedupeGen) has(h uint64, line []byte) (found, taken bool) {
	i, ok := g.m[h]
	if !ok {
		return false, false
	}
	return bytes.Equal(g.line(i), line), true
}

// seen reports whether line, of second ts, was seen before, and remembers it.
func (d *dedupe) seen(ts int64, line []byte) bool {
	if !d.started {
		d.seed, d.started, d.curStart = maphash.MakeSeed(), true, ts
		d.cur.reset()
		d.prev.reset()
	}
	if ts >= d.curStart+dedupeSpan {
		d.prev, d.cur = d.cur, d.prev
		d.cur.reset()
		d.curStart = ts
	}
	h := maphash.Bytes(d.seed, line)
	if found, _ := d.prev.has(h, line); found {
		return true
	}
	found, taken := d.cur.has(h, line)
	if found {
		return true
	}
	if !taken { // a collision keeps the first line only: the rarer repeat is then stored twice
		d.cur.arena = append(d.cur.arena, line...)
		d.cur.ends = append(d.cur.ends, int32(len(d.cur.arena)))
		d.cur.m[h] = int32(len(d.cur.ends) - 1)
	}
	return false
}

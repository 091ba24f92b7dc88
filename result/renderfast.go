package result

import (
	"math/bits"
	"unsafe"
)

// The Renderer's fast path (Renderer.run, and runQuick for most lines)
// compares and scans a line's bytes eight at a time: per line it asks
// whether the line begins with its reading's "node,datetime," and its
// triple's "sensor,feature,property," (some 30 bytes each), and how long
// its value is, and copies the pieces an observation is made of. As string
// comparisons (runtime.memequal, a call each) and a scan a byte at a time,
// those were a third of the rendering's CPU in a 20 M-row JSON download's
// profile (memeqbody 0.23 s, numberLen 0.23 s of the Renderer's 1.73 s),
// and as memmove's calls, later, 14 % of its instructions. The loads are
// unsafe's, unchecked, inside the bounds the length tests before them
// prove (with slices' loads, the bounds checks were as many instructions
// as the compares), and each helper here but lineValueLen is small enough
// to be inlined into runQuickGo's loop.

// equalAt reports whether the n bytes at a and b, n at least 8, are equal,
// eight at a time, the last eight overlapping, branching once.
func equalAt(a, b unsafe.Pointer, n int) bool {
	x := load64(a, n-8) ^ load64(b, n-8)
	for i := 0; i < n-8; i += 8 {
		x |= load64(a, i) ^ load64(b, i)
	}
	return x == 0
}

// diff24 is zero when the 24 bytes at a and b are equal. Two of them, one
// from each end, compare 24 to 48 bytes (a reading's "node,datetime," and
// a triple's spelling, as nearly all are) without equalAt's loop, whose
// count, differing from one triple to the next, was mispredicted every
// other line. run spells equalAt so: with diff24 and the loop both, the
// function would be too large to be inlined.
func diff24(a, b unsafe.Pointer) uint64 {
	p, q := (*[3]uint64)(a), (*[3]uint64)(b)
	return (p[0] ^ q[0]) | (p[1] ^ q[1]) | (p[2] ^ q[2]) // ^ and | bind alike: the parentheses are needed
}

// move16 copies sixteen bytes from src to dst (of which the caller uses
// the first few): one load and one store, where memmove's call made the
// compiler store and reload the loop's state around it.
func move16(dst, src unsafe.Pointer) { *(*[16]byte)(dst) = *(*[16]byte)(src) }

// move32 and move96 copy 32 and 96 bytes, sixteen at a time: an
// observation's head and beginning (60-90 bytes) are copied whole by
// move96, without a loop or a call, the bytes past their ends overwritten
// by what follows. (A [96]byte assignment would be a memmove call: the
// compiler cannot tell that the two do not overlap.)
func move32(dst, src unsafe.Pointer) {
	move16(dst, src)
	move16(unsafe.Add(dst, 16), unsafe.Add(src, 16))
}

func move96(dst, src unsafe.Pointer) {
	move16(dst, src)
	move16(unsafe.Add(dst, 16), unsafe.Add(src, 16))
	move16(unsafe.Add(dst, 32), unsafe.Add(src, 32))
	move16(unsafe.Add(dst, 48), unsafe.Add(src, 48))
	move16(unsafe.Add(dst, 64), unsafe.Add(src, 64))
	move16(unsafe.Add(dst, 80), unsafe.Add(src, 80))
}

// padded is p with room for at least n bytes, and sixteen past its
// length, so that move16, move32 or move96 may read it whole.
func padded(p []byte, n int) []byte {
	if n < len(p)+16 {
		n = len(p) + 16
	}
	if cap(p) >= n {
		return p
	}
	return append(make([]byte, 0, n), p...)
}

// b2i is 1 for true, 0 for false, without a branch (SETcc).
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// digitRun is how many ASCII digits, up to seven, the eight bytes of x
// (loaded in the machine's order, little-endian) begin with: seven for
// seven or eight, which the caller tells by the byte after the seventh.
// Each byte minus '0' (as xor: a digit's high nibble is 3) is a digit's
// value below 10; adding 0x76 sets its high bit when it is 10 or more. A
// carry out of a byte comes only from one that is no digit, and reaches
// only bytes after it, so the first flagged byte is the first that is no
// digit. The top bit set, the count is never of a zero word, which spares
// the count's instruction a test of zero on machines without TZCNT.
func digitRun(x uint64) int {
	x ^= 0x3030303030303030
	return bits.TrailingZeros64(((x+0x7676767676767676)|x)&0x8080808080808080|1<<63) >> 3
}

// lineValueLen is numberLen of the value at p (the length of the JSON
// number it begins with), followed by at least 20 bytes in all (it reads
// up to p+16, whatever the value), when the value has up to seven integer
// and seven fraction digits and a '\n' follows it, as the exporter's
// values (AppendValue) nearly all do; -1 for any other, missing values
// too, which numberLen is asked about. It branches once: its tests are
// folded into one word, where as branches the one on the integer digits'
// count, which differs from value to value, was mispredicted every other
// line. Too large to be inlined, it is spelt out again in runQuickGo,
// and in runQuick's assembly; FuzzValueLen holds them to numberLen.
func lineValueLen(p unsafe.Pointer) int {
	neg := b2i(*(*byte)(p) == '-')
	x := load64(p, neg)
	d := digitRun(x) // integer digits
	i := neg + d
	dot := b2i(*(*byte)(unsafe.Add(p, i)) == '.')
	e := i + (1+digitRun(load64(p, i+1)))&-dot // past the fraction, if any
	bad := b2i(uint(d-1) >= 7) | b2i(d > 1)&b2i(byte(x) == '0') | dot&b2i(e-i < 2) |
		b2i(*(*byte)(unsafe.Add(p, e)) != '\n')
	if bad != 0 {
		return -1
	}
	return e
}

package result

import (
	"math/bits"
	"unsafe"
)

// The Renderer's fast path (Renderer.run) compares and scans a line's
// bytes eight at a time: per line it asks whether the line begins with
// its reading's "node,datetime," and its triple's "sensor,feature,
// property," (some 30 bytes each), and how long its value is. As string
// comparisons (runtime.memequal, a call each) and a scan a byte at a time,
// those were a third of the rendering's CPU in a 20 M-row JSON download's
// profile (memeqbody 0.23 s, numberLen 0.23 s of the Renderer's 1.73 s).
// The loads are unsafe's, unchecked, inside the bounds the length tests
// before them prove (with slices' loads, the bounds checks were as many
// instructions as the compares), and each helper here is small enough to
// be inlined into run's loop.

// equalAt reports whether the n bytes at a and b, n at least 8, are equal,
// eight at a time, the last eight overlapping, branching once.
func equalAt(a, b unsafe.Pointer, n int) bool {
	x := load64(a, n-8) ^ load64(b, n-8)
	for i := 0; i < n-8; i += 8 {
		x |= load64(a, i) ^ load64(b, i)
	}
	return x == 0
}

// load64 is the eight bytes at p+i, in the machine's order.
func load64(p unsafe.Pointer, i int) uint64 { return *(*uint64)(unsafe.Add(p, i)) }

// move16 copies sixteen bytes from src to dst (of which the caller uses
// the first few): one load and one store, where memmove's call made the
// compiler store and reload the loop's state around it.
func move16(dst, src unsafe.Pointer) { *(*[16]byte)(dst) = *(*[16]byte)(src) }

// padded is p with at least sixteen bytes to spare past its length, so
// that move16 may read a piece of up to sixteen bytes whole.
func padded(p []byte) []byte {
	if cap(p)-len(p) >= 16 {
		return p
	}
	return append(make([]byte, 0, len(p)+16), p...)
}

// digits8 is how many ASCII digits the eight bytes at p+i begin with.
// Each byte minus '0' (as xor: a digit's high nibble is 3) is a digit's
// value below 10; adding 0x76 sets its high bit when it is 10 or more. A
// carry out of a byte comes only from one that is no digit, and reaches
// only bytes after it, so the first flagged byte is the first that is no
// digit.
func digits8(p unsafe.Pointer, i int) int {
	x := load64(p, i) ^ 0x3030303030303030
	nd := ((x + 0x7676767676767676) | x) & 0x8080808080808080
	return bits.TrailingZeros64(nd) >> 3
}

// valueLen is numberLen (the length of the JSON number b begins with; 0
// for a missing value; -1 for anything else), found eight bytes at a time
// by quickValueLen when b holds 18 bytes or more. FuzzValueLen holds the
// two equal.
func valueLen(b []byte) int {
	if len(b) >= 18 {
		if k := quickValueLen(unsafe.Pointer(unsafe.SliceData(b))); k >= 0 {
			return k
		}
	}
	return numberLen(b)
}

// quickValueLen is numberLen of the value at p, followed by at least 18
// bytes in all, for values of up to seven integer and seven fraction
// digits; -1 for any other, which numberLen is asked about.
func quickValueLen(p unsafe.Pointer) int {
	i := 0
	if *(*byte)(p) == '-' {
		i = 1
	}
	d := digits8(p, i)
	if d == 0 || d == 8 || d > 1 && *(*byte)(unsafe.Add(p, i)) == '0' {
		return -1
	}
	if i += d; *(*byte)(unsafe.Add(p, i)) == '.' {
		f := digits8(p, i+1)
		if f == 0 || f == 8 {
			return -1
		}
		i += 1 + f
	}
	if *(*byte)(unsafe.Add(p, i))|0x20 == 'e' {
		return -1
	}
	return i
}

// hasTriple reports whether ps holds ti.
func hasTriple(ps []int32, ti int32) bool {
	for _, p := range ps {
		if p == ti {
			return true
		}
	}
	return false
}

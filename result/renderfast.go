package result

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// The Renderer's fast path (Renderer.fast) compares and scans a line's
// bytes eight at a time: per line it asks whether the line begins with
// its reading's "node,datetime," and its triple's "sensor,feature,
// property," (some 30 bytes each), and how long its value is. As string
// comparisons (runtime.memequal, a call each) and a scan a byte at a time,
// those were a third of the rendering's CPU in a 20 M-row JSON download's
// profile (memeqbody 0.23 s, numberLen 0.23 s of the Renderer's 1.73 s).

// hasPrefix reports whether s begins with p, comparing sixteen bytes at
// a time, the last sixteen overlapping, and branching once: the loads are
// unsafe's, unchecked, inside the bounds the length tests before them
// prove (with slices' loads, the bounds checks were as many instructions
// as the compares: 95 a line for the two, against 91 in memeqbody).
func hasPrefix(s, p []byte) bool {
	n := len(p)
	if len(s) < n {
		return false
	}
	if n < 16 {
		return string(s[:n]) == string(p)
	}
	a, b := unsafe.Pointer(unsafe.SliceData(s)), unsafe.Pointer(unsafe.SliceData(p))
	var x uint64
	for i := 0; i < n-16; i += 16 {
		x |= (load64(a, i) ^ load64(b, i)) | (load64(a, i+8) ^ load64(b, i+8))
	}
	x |= (load64(a, n-16) ^ load64(b, n-16)) | (load64(a, n-8) ^ load64(b, n-8))
	return x == 0
}

// load64 is the eight bytes at p+i, in the machine's order.
func load64(p unsafe.Pointer, i int) uint64 { return *(*uint64)(unsafe.Add(p, i)) }

// digits8 is how many ASCII digits b's first eight bytes begin with; b
// holds at least eight. Each byte minus '0' (as xor: a digit's high
// nibble is 3) is a digit's value below 10; adding 0x76 sets its high bit
// when it is 10 or more. A carry out of a byte comes only from one that is
// no digit, and reaches only bytes after it, so the first flagged byte is
// the first that is no digit.
func digits8(b []byte) int {
	x := binary.LittleEndian.Uint64(b) ^ 0x3030303030303030
	nd := ((x + 0x7676767676767676) | x) & 0x8080808080808080
	return bits.TrailingZeros64(nd) >> 3
}

// valueLen is numberLen (the length of the JSON number b begins with; 0
// for a missing value; -1 for anything else), for values of up to seven
// integer and seven fraction digits found eight bytes at a time, given
// the bytes after the value to read (a line's, or the next lines'); other
// values, and b's last bytes, are numberLen's. FuzzValueLen holds the two
// equal.
func valueLen(b []byte) int {
	if len(b) < 18 {
		return numberLen(b)
	}
	i := 0
	if b[0] == '-' {
		i = 1
	}
	d := digits8(b[i:])
	if d == 0 || d == 8 || b[i] == '0' && d > 1 {
		return numberLen(b)
	}
	i += d
	if b[i] == '.' {
		f := digits8(b[i+1:])
		if f == 0 || f == 8 {
			return numberLen(b)
		}
		i += 1 + f
	}
	if b[i]|0x20 == 'e' {
		return numberLen(b)
	}
	return i
}

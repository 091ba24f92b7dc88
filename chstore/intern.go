package chstore

import (
	"encoding/binary"
	"unsafe"
)

// maxInterned bounds an interner's memory: a slice's values are a
// network's nodes, sensors, features and properties, a few hundred.
const maxInterned = 4096

// interner turns the bytes of a value into a Go string, allocated the
// first time only: the rows of a slice come ordered by time and node, so a
// value is mostly the row before's, else one of the two that came after
// that value the last times (a node's sensors, features and properties
// come round in one order; the nodes of a second too), else one of a
// handful of recent ones. Those are compared without a call: a value's length and two words
// of its bytes (wordKey) decide values of up to 16 bytes, which most are;
// the 100 node ids of the bench's network, each a run of nine rows, were
// 8 calls of memequal and a map look-up at every change of node with the
// slots alone.
type interner struct {
	list  []interned
	m     map[string]int32 // index in list
	last  int32            // the value last got; valid when list is not empty
	slots [8]int32         // recent values (in list), in no order
	next  int              // the slot the next value missed in slots takes
}

// interned is a value, its wordKey and the values that came after it
// last and the time before: a value followed by two others in turn (the
// bench's temperature, after which come x and light_intensity) is found
// without the slots.
type interned struct {
	s             string
	k0, k1        uint64
	after, before int32 // -1: none yet
}

// wordKey is two words of b such that two values of one length up to 16
// bytes are equal exactly when their keys are: the first and the last
// eight bytes (overlapping below 16), four and four below 8, three bytes
// below 4. Of a longer value only those are compared first.
func wordKey(b []byte) (uint64, uint64) {
	switch n := len(b); {
	case n >= 8:
		return binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		return uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32, 0
	case n > 0:
		return uint64(b[0]) | uint64(b[n/2])<<8 | uint64(b[n-1])<<16, 0
	}
	return 0, 0
}

// is reports whether e is b, whose key is k0, k1.
func (e *interned) is(b []byte, k0, k1 uint64) bool {
	return len(b) == len(e.s) && k0 == e.k0 && k1 == e.k1 && (len(b) <= 16 || string(b[8:len(b)-8]) == e.s[8:len(b)-8])
}

func (in *interner) get(b []byte) string {
	k0, k1 := wordKey(b)
	if len(in.list) > 0 {
		e := &in.list[in.last]
		if e.is(b, k0, k1) {
			return e.s
		}
		if a := e.after; a >= 0 && in.list[a].is(b, k0, k1) {
			in.last = a
			return in.list[a].s
		}
		if a := e.before; a >= 0 && in.list[a].is(b, k0, k1) {
			e.after, e.before, in.last = a, e.after, a
			return in.list[a].s
		}
	}
	i := in.find(b, k0, k1)
	p := &in.list[in.last] // after a reset, the new value itself
	p.after, p.before = i, p.after
	in.last = i
	return in.list[i].s
}

// find is the index of b in list, looked up in the slots, then the map,
// else added.
func (in *interner) find(b []byte, k0, k1 uint64) int32 {
	for _, i := range in.slots {
		if int(i) < len(in.list) && in.list[i].is(b, k0, k1) {
			return i
		}
	}
	i, ok := in.m[string(b)] // looked up without a conversion
	if !ok {
		if in.m == nil || len(in.list) >= maxInterned {
			in.list, in.m, in.slots, in.last = in.list[:0], make(map[string]int32), [8]int32{}, 0
		}
		s := string(b)
		i = int32(len(in.list))
		in.list = append(in.list, interned{s: s, k0: k0, k1: k1, after: -1, before: -1})
		in.m[s] = i
	}
	in.slots[in.next] = i
	in.next = (in.next + 1) % len(in.slots)
	return i
}

// same is a == b, without a call for the interned strings of a slice (one
// pointer, one length) or strings of different lengths.
func same(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

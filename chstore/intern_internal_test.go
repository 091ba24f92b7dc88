package chstore

import (
	"strings"
	"testing"
	"unsafe"
)

// FuzzInterner holds the interner to string(b) on values of every length
// around its word keys' bounds (0-3, 4-7, 8-16, longer) that differ in any
// one byte, in orders that cycle, repeat and jump, and to one string for
// equal values while it has not started again.
func FuzzInterner(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0, 1, 2, 3, 3, 3, 9, 200, 17})
	f.Add([]byte{5, 5, 5, 6, 6, 7, 255, 254, 5, 6, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		var in interner
		seen := map[string]string{}
		for len(data) >= 2 && len(seen) < maxInterned-1 {
			n, at := int(data[0])%40, data[1]
			data = data[2:]
			b := []byte(strings.Repeat("a", n))
			if n > 0 {
				b[int(at)%n] = 'a' + at%7
			}
			got := in.get(b)
			if got != string(b) {
				t.Fatalf("got %q, want %q", got, b)
			}
			if s, ok := seen[got]; ok && unsafe.StringData(s) != unsafe.StringData(got) {
				t.Fatalf("%q interned twice", got)
			}
			seen[got] = got
		}
	})
}

// TestInternerStartsAgain: past maxInterned values the interner forgets
// them and still gives each value's string.
func TestInternerStartsAgain(t *testing.T) {
	var in interner
	for i := range 3 * maxInterned {
		v := strings.Repeat("x", i%5) + string(rune('a'+i%26)) + strings.Repeat("y", i%maxInterned/26)
		if got := in.get([]byte(v)); got != v {
			t.Fatalf("value %d: got %q, want %q", i, got, v)
		}
	}
}

package result

import (
	"bytes"
	"testing"
)

// FuzzValueLen holds valueLen, which the Renderer's fast path scans a
// value with, equal to numberLen, and hasPrefix to bytes.HasPrefix.
func FuzzValueLen(f *testing.F) {
	for _, v := range []string{"1012.7\n001e", "-0.23\nx", "0\n", "00.1\n", "-\n", "1.\n", "1e5\n", "12345678.5\n",
		"1.12345678\n", "\n", "", "-0\n", "7", "1.5e-3,", "abc\n", "-.5\n", "3.14159265358979\n"} {
		f.Add([]byte(v), []byte(v[:len(v)/2]))
	}
	f.Fuzz(func(t *testing.T, b, p []byte) {
		for _, tail := range []string{"", "\n001e0610b000,2025-12-26T00:00:00,bmp180,"} {
			v := append(bytes.Clone(b), tail...)
			if got, want := valueLen(v), numberLen(v); got != want {
				t.Fatalf("valueLen(%q) = %d, want numberLen's %d", v, got, want)
			}
			if got, want := hasPrefix(v, p), bytes.HasPrefix(v, p); got != want {
				t.Fatalf("hasPrefix(%q, %q) = %v, want %v", v, p, got, want)
			}
		}
	})
}

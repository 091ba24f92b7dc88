package result

import (
	"bytes"
	"testing"
	"unsafe"
)

// FuzzValueLen holds valueLen, which the Renderer's fast path scans a
// value with (quickValueLen, then numberLen), equal to numberLen; equalAt
// to bytes.Equal; and move16 to copy.
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
			if n := len(p); n >= 8 && len(v) >= n {
				got := equalAt(unsafe.Pointer(unsafe.SliceData(v)), unsafe.Pointer(unsafe.SliceData(p)), n)
				if want := bytes.Equal(v[:n], p); got != want {
					t.Fatalf("equalAt(%q, %q) = %v, want %v", v[:n], p, got, want)
				}
			}
			if len(v) >= 16 {
				dst := make([]byte, 16)
				move16(unsafe.Pointer(unsafe.SliceData(dst)), unsafe.Pointer(unsafe.SliceData(v)))
				if !bytes.Equal(dst, v[:16]) {
					t.Fatalf("move16 of %q gave %q", v[:16], dst)
				}
			}
		}
	})
}

package result

import (
	"bytes"
	"regexp"
	"testing"
	"unsafe"
)

// quickValue is what lineValueLen takes: a JSON number of up to seven
// integer and seven fraction digits, without an exponent.
var quickValue = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,6})(\.[0-9]{1,7})?$`)

// FuzzValueLen holds lineValueLen, which the Renderer's fast path scans a
// value with, to numberLen, and its copies in runQuickGo and the assembly
// runQuick to it by rendering the value on lines runQuick takes, as the
// reference renderer does;
// equalAt to bytes.Equal; and move16 to copy.
func FuzzValueLen(f *testing.F) {
	for _, v := range []string{"1012.7\n001e", "-0.23\nx", "0\n", "00.1\n", "-\n", "1.\n", "1e5\n", "12345678.5\n",
		"1.12345678\n", "\n", "", "-0\n", "7", "1.5e-3,", "abc\n", "-.5\n", "3.14159265358979\n", "1234567.1234567\n",
		"-1234567.1234567\n", "12345678\n", "1.1234567\n", "0.0\n", "01\n", "1.2.3\n", "--1\n", "1-\n", "9\r\n",
		"09\n", "-09\n", "/1\n", ":1\n", "1/\n", "1:\n", "1./\n", "1.:\n"} { // '/' and ':' are the bytes either side of the digits
		f.Add([]byte(v), []byte(v[:len(v)/2]))
	}
	// two readings differing in one bit of the node, where a later byte
	// has that bit set (diff24, once without its parentheses, took them
	// for one)
	f.Add([]byte("001e0610b003,2026-09-25T00:00:00,bmp180"), []byte("001e0610b002,2026-09-25T00:00:00,"))
	f.Fuzz(func(t *testing.T, b, p []byte) {
		for _, tail := range []string{"", "\n001e0610b000,2025-12-26T00:00:00,bmp180,"} {
			v := append(bytes.Clone(b), tail...)
			if len(v) >= 20 {
				got, want := lineValueLen(unsafe.Pointer(unsafe.SliceData(v))), numberLen(v)
				if got >= 0 && (got != want || v[got] != '\n') {
					t.Fatalf("lineValueLen(%q) = %d, want numberLen's %d and a line break after it", v, got, want)
				}
				if got < 0 && want > 0 && want < len(v) && v[want] == '\n' && quickValue.Match(v[:want]) {
					t.Fatalf("lineValueLen(%q) = %d, want %d", v, got, want)
				}
			}
			if n := len(p); n >= 8 && len(v) >= n {
				a, b := unsafe.Pointer(unsafe.SliceData(v)), unsafe.Pointer(unsafe.SliceData(p))
				want := bytes.Equal(v[:n], p)
				if got := equalAt(a, b, n); got != want {
					t.Fatalf("equalAt(%q, %q) = %v, want %v", v[:n], p, got, want)
				}
				if got := diff24(a, b)|diff24(unsafe.Add(a, n-24), unsafe.Add(b, n-24)) == 0; n >= 24 && n <= 48 && got != want {
					t.Fatalf("diff24 of %q and %q: equal %v, want %v", v[:n], p, got, want)
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
		// The first line opens an observation (run's), the second adds
		// the value b begins with to it (runQuick's, if lineValueLen
		// takes it, once the Renderer has seen the lines with another
		// value and knows the triple that comes after the first line's),
		// the third is the next one's.
		lines := func(value []byte) []byte {
			var csv []byte
			csv = append(csv, "001e0610b000,2025-12-26T00:00:00,bmp180,temperature,temperature,1\n"...)
			csv = append(csv, "001e0610b000,2025-12-26T00:00:00,bmp180,temperature,pressure,"...)
			csv = append(csv, value...)
			return append(csv, "\n001e0610b000,2025-12-26T00:00:00,bmp180,atmospheric_pressure,pressure,2\n"...)
		}
		csv := lines(b)
		for _, ndjson := range []bool{false, true} {
			ref := refRenderer{NDJSON: ndjson}
			want, wantErr := ref.AppendLines(nil, csv)
			want = ref.Close(want)
			r := Renderer{NDJSON: ndjson}
			if _, err := r.AppendLines(nil, lines([]byte("5"))); err != nil {
				t.Fatal(err)
			}
			r.Reset()
			got, err := r.AppendLines(make([]byte, 0, 4096), csv)
			got = r.Close(got)
			if (err == nil) != (wantErr == nil) || err == nil && !bytes.Equal(got, want) {
				t.Fatalf("got %q, %v, want %q, %v", got, err, want, wantErr)
			}
		}
	})
}

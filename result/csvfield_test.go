package result_test

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// TestCSVFieldQuotedWhereNeeded: a name is quoted exactly when it holds a
// comma, a quote, a line feed or a carriage return, wherever in it (the
// test looks at eight bytes at a time), and reads back as it was; bytes
// just below and above those, and bytes of UTF-8, leave it plain.
func TestCSVFieldQuotedWhereNeeded(t *testing.T) {
	for n := 1; n <= 20; n++ {
		for at := range n {
			for _, c := range []byte{',', '"', '\n', '\r', ' ', '+', '-', '.', 0x00, 0x7f, 0x80, 0xff} {
				b := []byte(strings.Repeat("abcdefgh", 3)[:n])
				b[at] = c
				name := string(b)
				var e result.CSVEncoder
				line := string(e.AppendRow(nil, &schema.Row{Node: name, Sensor: "s", Feature: "f", Property: "p", Value: 1}))
				quoted := strings.HasPrefix(line, `"`)
				if want := strings.ContainsAny(name, ",\"\n\r"); quoted != want {
					t.Fatalf("%q: got quoted %v, want %v (%q)", name, quoted, want, line)
				}
				if c >= 0x80 {
					continue // not UTF-8: encoding/csv reads it as U+FFFD
				}
				rec, err := csv.NewReader(strings.NewReader(line)).Read()
				if err != nil || rec[0] != strings.ReplaceAll(name, "\r\n", "\n") {
					t.Fatalf("%q: read back %q, %v", name, rec, err)
				}
			}
		}
	}
}

package schema_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// TestParseDatetimePlain: the plain form's fast path reads every string of
// its shape as the regular expression does, the valid and the invalid
// (month 13, 30 February, 24 o'clock, a year out of range, a letter for a
// digit) alike.
func TestParseDatetimePlain(t *testing.T) {
	inputs := []string{"2017-05-30T01:00:00", "2001-01-01T00:00:00", "2017-02-30T00:00:00", "2016-02-29 23:59:59",
		"1969-12-31T23:59:59", "1970-01-01t00:00:00", "2105-12-31T23:59:59", "2106-01-01T00:00:00",
		"2017-13-01T00:00:00", "2017-00-10T00:00:00", "2017-01-32T00:00:00", "2017-01-01T24:00:00",
		"2017-01-01T00:60:00", "2017-01-01T00:00:60", "2017-0a-01T00:00:00", "+017-01-01T00:00:00",
		"2017-01-01X00:00:00", "2017-01-01T00:00:0 ", " 2017-01-01T00:00:0", "2017-01-01T00:00:00Z"}
	r := rand.New(rand.NewPCG(1, 2))
	const digits = "0123456789"
	for range 20000 {
		b := []byte("2017-05-30T01:00:00")
		for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
			if r.IntN(3) == 0 {
				b[i] = digits[r.IntN(10)]
			}
		}
		b[10] = "Tt "[r.IntN(3)]
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		got, err := schema.ParseDatetime(s)
		want, wantErr := schema.ParseDatetimeLenient(s)
		if (err == nil) != (wantErr == nil) || !got.Equal(want) || got.Location() != want.Location() {
			t.Fatalf("%q: got %v, %v; want %v, %v", s, got, err, want, wantErr)
		}
	}
	if _, err := schema.ParseDatetime(strings.Repeat("9", 19)); err == nil {
		t.Fatal("nineteen nines parsed")
	}
}

// BenchmarkParseDatetime reads the ticket burst's datetime with the fast
// path (plain) and with the regular expression alone (lenient).
func BenchmarkParseDatetime(b *testing.B) {
	for _, c := range []struct {
		name  string
		parse func(string) (time.Time, error)
	}{{"lenient", schema.ParseDatetimeLenient}, {"plain", schema.ParseDatetime}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.parse("2001-01-01T00:00:01"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

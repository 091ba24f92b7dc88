package result

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// quickPrimer is the lines a Renderer has seen before FuzzQuickAsm's:
// two readings of the bench's nine triples, which link each triple to the
// next and leave the second reading's observation open; then a triple
// whose raw is too short for runQuick (not quick) and the bench's first
// again, so that the ninth links to the short one and the short one to
// the first.
func quickPrimer() []byte {
	var b []byte
	for node := range 2 {
		for _, tr := range benchTriples {
			b = fmt.Appendf(b, "001e0610b%03d,2025-12-26T00:00:00,%s,1.5\n", node, tr)
		}
	}
	b = append(b, "001e0610b001,2025-12-26T00:00:00,a,b,c,2\n"...)
	return fmt.Appendf(b, "001e0610b001,2025-12-26T00:00:00,%s,3\n", benchTriples[0])
}

var benchTriples = []string{"bmp180,atmospheric_pressure,pressure", "bmp180,temperature,temperature",
	"hmc5883l,magnetic_field,x", "hmc5883l,magnetic_field,y", "hmc5883l,magnetic_field,z",
	"htu21d,relative_humidity,humidity", "htu21d,temperature,temperature", "tmp112,temperature,temperature",
	"tsl250rd,light_intensity,intensity"}

// quickLinesOf is a line of the primer's second reading for each of
// values (separated by spaces), its triples in the primer's order from
// the first.
func quickLinesOf(values []byte) []byte {
	var b []byte
	for k, v := range bytes.Split(values, []byte{' '}) {
		b = append(b, "001e0610b001,2025-12-26T00:00:00,"...)
		b = append(append(b, benchTriples[k%len(benchTriples)]...), ',')
		b = append(append(b, v...), '\n')
	}
	return b
}

// FuzzQuickAsm holds runQuick (on amd64 the assembly loop, quickLines) to
// runQuickGo: from the same state, on the same lines, with b of the same
// length and capacity, they must write the same bytes, stop at the same
// line and leave the Renderer and its triples (stamps, links) the same.
// The lines are quickLinesOf(values), where the fuzzer changes values
// alone, then any lines. Under -tags purego, or elsewhere, runQuick is
// runQuickGo and the test holds nothing but that.
func FuzzQuickAsm(f *testing.F) {
	good := "1012.7 -0.23 0 12.5 -1234567.1234567 0.5 987 -0 1234567"
	lines := quickLinesOf([]byte(good))
	for _, s := range []string{good, good + " " + good, "1 2 3 4"} {
		f.Add([]byte(s), []byte(nil), uint16(4096), uint8(9), uint8(0), false, false)
		f.Add([]byte(s), []byte(nil), uint16(4096), uint8(0), uint8(3), true, false)
		f.Add([]byte(s), []byte(nil), uint16(300), uint8(9), uint8(1), false, true)
	}
	for _, bad := range []string{"00.5", "1.", "-", "", "12345678", "1.12345678", "1e5", "-.5", "0x1", "5\r", "09", "-09",
		":0", "0:", "/1", "1/", "1.:", "1./", "-:", "-/", "0/", "1.0:"} { // '/' and ':' are the bytes either side of the digits
		f.Add([]byte(strings.Replace(good, "-0.23", bad, 1)), []byte(nil), uint16(4096), uint8(9), uint8(0), false, false)
	}
	f.Add([]byte(nil), bytes.Replace(lines, []byte("b001,"), []byte("b002,"), 1), uint16(4096), uint8(9), uint8(0), false, false)
	f.Add([]byte(nil), bytes.Replace(lines, []byte("magnetic_field,y"), []byte("magnetic_field,x"), 1), uint16(4096), uint8(9), uint8(0), false, false)
	f.Add([]byte(good), []byte("001e0610b001,2025-12-26T00:00:00,a,b,c,2\n"), uint16(4096), uint8(9), uint8(0), true, false)
	var primed [2]*Renderer // JSON, NDJSON
	for i := range primed {
		primed[i] = &Renderer{NDJSON: i == 1}
		if _, err := primed[i].AppendLines(nil, quickPrimer()); err != nil {
			f.Fatal(err)
		}
		if r := primed[i]; !r.open || !quickReading(r.nt, r.head) {
			f.Fatalf("the primer leaves open %v, nt %q, head %q: want an observation open, the reading runQuick's", r.open, r.nt, r.head)
		}
	}
	f.Fuzz(func(t *testing.T, values, more []byte, room uint16, last, pre uint8, ndjson, sfZero bool) {
		csv := append(quickLinesOf(values), more...)
		var r [2]Renderer
		for i := range r {
			r[i] = *primed[b2i(ndjson)] // runQuick changes none of what they share but the triples
			r[i].names.trips = slices.Clone(r[i].names.trips)
			r[i].last = int32(int(last) % len(r[i].names.trips))
			if sfZero {
				r[i].sf = 0
			}
		}
		b := [2][]byte{}
		for i := range b {
			b[i] = append(make([]byte, 0, int(pre)+int(room)), bytes.Repeat([]byte{'#'}, int(pre))...)
		}
		got, gotAt := r[0].runQuick(b[0], csv, 0)
		want, wantAt := r[1].runQuickGo(b[1], csv, 0)
		if !bytes.Equal(got, want) || gotAt != wantAt {
			t.Fatalf("runQuick gave %q, at %d; want runQuickGo's %q, at %d", got, gotAt, want, wantAt)
		}
		g, w := &r[0], &r[1]
		if g.sf != w.sf || g.last != w.last || g.cur != w.cur || g.obs != w.obs {
			t.Fatalf("runQuick left sf %d, last %d, cur %d, obs %d; want runQuickGo's %d, %d, %d, %d", g.sf, g.last, g.cur, g.obs, w.sf, w.last, w.cur, w.obs)
		}
		for i := range g.names.trips {
			if gt, wt := &g.names.trips[i], &w.names.trips[i]; gt.stamp != wt.stamp || gt.next != wt.next {
				t.Fatalf("runQuick left triple %d stamp %d, next %d; want runQuickGo's %d, %d", i, gt.stamp, gt.next, wt.stamp, wt.next)
			}
		}
	})
}

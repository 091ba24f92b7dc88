package result

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

// benchShapeCSV is stored lines shaped as make bench's and the real data's:
// 100 nodes, each with nine readings a second of one sensor, feature and
// property after another (three of one feature), a property read twice in
// one second now and then, and values of every length run's fast path
// and its fallbacks meet: missing, negative, of more than seven digits,
// with an exponent.
func benchShapeCSV(seconds int) []byte {
	trips := []string{"bmp180,atmospheric_pressure,pressure", "bmp180,temperature,temperature",
		"hmc5883l,magnetic_field,x", "hmc5883l,magnetic_field,y", "hmc5883l,magnetic_field,z",
		"htu21d,relative_humidity,humidity", "htu21d,temperature,temperature", "tmp112,temperature,temperature",
		"tsl250rd,light_intensity,intensity"}
	values := []string{"1012.7", "-0.23", "", "0", "12345678.5", "1.12345678", "-1234567.1234567", "3e5", "987", "-0", "0.5"}
	var b []byte
	rnd := uint32(7)
	for s := range seconds {
		for node := range 100 {
			for k, tr := range trips {
				rnd = rnd*1664525 + 1013904223
				line := fmt.Sprintf("001e0610%04x,2025-12-26T00:%02d:%02d,%s,", 0xb000+node, s/60, s%60, tr)
				b = append(b, line...)
				b = append(b, values[int(rnd>>24)%len(values)]...)
				b = append(b, '\n')
				if k == 3 && rnd%7 == 0 { // y again: the open observation has it, so another begins
					b = append(b, line...)
					b = append(b, "4.25\n"...)
				}
			}
		}
	}
	return b
}

// The Renderer's fast path (run) renders lines shaped as the real data's
// as the reference renderer does, whole and in chunks cut between
// readings, and what it makes is JSON whose observations repeat no key
// and hold every line's value.
func TestRendererBenchShape(t *testing.T) {
	csv := benchShapeCSV(30)
	ids := schema.MetaIDs{}
	for i := range 50 {
		ids[fmt.Sprintf("001e0610%04x", 0xb000+i)] = uint32(1000 + i)
	}
	for _, ndjson := range []bool{false, true} {
		ref := refRenderer{MetaIDs: ids, NDJSON: ndjson}
		want, err := ref.AppendLines(nil, csv)
		if err != nil {
			t.Fatal(err)
		}
		want = ref.Close(want)
		r := Renderer{MetaIDs: ids, NDJSON: ndjson}
		got, err := r.AppendLines(nil, csv)
		got = r.Close(got)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %v and %d bytes differing from byte %d, want the reference's %d", err, len(got), firstDiff(got, want), len(want))
		}
		var chunked []byte
		r.Reset()
		for rest := csv; len(rest) > 0; {
			k := len(rest)
			if k > 9000 {
				k = refCut(rest, 100) // about 9/25 in, where the reading changes
			}
			if k == 0 {
				k = len(rest)
			}
			if chunked, err = r.AppendLines(chunked, rest[:k]); err != nil {
				t.Fatal(err)
			}
			chunked = r.Close(chunked)
			r.Reset()
			rest = rest[k:]
		}
		if !bytes.Equal(chunked, want) {
			t.Fatalf("got %d bytes in chunks differing from byte %d, want the reference's %d", len(chunked), firstDiff(chunked, want), len(want))
		}
		if !ndjson {
			checkObservations(t, append(append([]byte("["), got[1:]...), ']'), bytes.Count(csv, []byte("\n")))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// checkObservations decodes doc, a JSON array of observations, with
// encoding/json token by token: no object repeats a key (encoding/json's
// Unmarshal would keep the last silently), and the results hold lines
// values in all.
func checkObservations(t *testing.T, doc []byte, lines int) {
	t.Helper()
	if err := checkKeys(doc, lines); err != nil {
		t.Fatal(err)
	}
}

func checkKeys(doc []byte, lines int) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	type level struct {
		object, key bool // an object's; whether its next string is a key
		keys        map[string]bool
	}
	stack := []level{{}}
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("got %v decoding the rendering", err)
		}
		top := &stack[len(stack)-1]
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, level{object: true, key: true, keys: map[string]bool{}})
				continue
			case '[':
				stack = append(stack, level{})
				continue
			}
			stack = stack[:len(stack)-1] // '}', ']': a value of the level below ends
			top = &stack[len(stack)-1]
		case string:
			if top.object && top.key {
				if top.keys[v] {
					return fmt.Errorf("got key %q twice in one object", v)
				}
				top.keys[v], top.key = true, false
				continue
			}
		case json.Number, nil:
			if len(stack) == 4 { // [ { results {
				values++
			}
		}
		if top.object {
			top.key = true
		}
	}
	if values != lines {
		return fmt.Errorf("got %d values in the results, want %d, one a line", values, lines)
	}
	return nil
}

// checkKeys fails on a repeated key and on a missing value.
func TestCheckKeys(t *testing.T) {
	for doc, ok := range map[string]bool{
		`[{"a":1,"results":{"x":1,"y":null}},{"a":1,"results":{"x":2}}]`: true,
		`[{"a":1,"results":{"x":1,"x":2}},{"a":1,"results":{"x":2}}]`:    false,
		`[{"a":1,"a":2,"results":{"x":1,"y":2}},{"results":{"x":2}}]`:    false,
		`[{"a":1,"results":{"x":1}},{"a":1,"results":{"x":2}}]`:          false,
	} {
		if err := checkKeys([]byte(doc), 3); (err == nil) != ok {
			t.Errorf("checkKeys(%s) = %v, want ok %v", doc, err, ok)
		}
	}
}

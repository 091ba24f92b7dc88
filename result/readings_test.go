package result_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// repeatRows are rows in export order where readings share a second: a
// temperature read twice, a magnetic field with x twice and z three times,
// between plain readings.
func repeatRows() []schema.Row {
	r := func(node string, s int, sensor, feature, prop string, v float64) schema.Row {
		return schema.Row{Node: node, TS: ts0.Add(time.Duration(s) * time.Second), Sensor: sensor, Feature: feature, Property: prop, Value: v}
	}
	return []schema.Row{
		r("a", 0, "tmp112", "temperature", "temperature", 14.11),
		r("a", 0, "tmp112", "temperature", "temperature", 21.54),
		r("a", 0, "tmp112", "temperature", "temperature", 21.54), // the same value again is another reading
		r("b", 0, "tmp112", "temperature", "temperature", 3),
		r("a", 1, "hmc5883l", "magnetic_field", "x", 1),
		r("a", 1, "hmc5883l", "magnetic_field", "x", 2),
		r("a", 1, "hmc5883l", "magnetic_field", "y", 3),
		r("a", 1, "hmc5883l", "magnetic_field", "z", 4),
		r("a", 1, "hmc5883l", "magnetic_field", "z", 5),
		r("a", 1, "hmc5883l", "magnetic_field", "z", 6),
		r("a", 2, "tmp112", "temperature", "temperature", 7),
	}
}

// wantRepeatResults is what a client reads of repeatRows: every value, in
// observations of distinct keys.
var wantRepeatResults = []map[string]float64{
	{"temperature": 14.11}, {"temperature": 21.54}, {"temperature": 21.54},
	{"temperature": 3},
	{"x": 1}, {"x": 2, "y": 3, "z": 4}, {"z": 5}, {"z": 6},
	{"temperature": 7},
}

func resultsOf(t *testing.T, data []byte) []map[string]float64 {
	t.Helper()
	if err := testenv.StrictJSON(data); err != nil {
		t.Fatalf("got %v reading %s strictly, want no repeated key", err, data)
	}
	var out []map[string]float64
	for _, o := range decodeObservations(t, data) {
		out = append(out, o.Results)
	}
	return out
}

func decodeObservations(t *testing.T, data []byte) []schema.Observation {
	t.Helper()
	var obs []schema.Observation
	if bytes.HasPrefix(data, []byte("[")) {
		if err := json.Unmarshal(data, &obs); err != nil {
			t.Fatal(err)
		}
		return obs
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var o schema.Observation
		if err := json.Unmarshal(line, &o); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		obs = append(obs, o)
	}
	return obs
}

// The renderer carries every reading of a second, in objects with unique
// keys, as JSON and as NDJSON, and parts cut anywhere between seconds,
// framed by TextLayout, make the same file.
func TestRepeatedPropertiesStartObservations(t *testing.T) {
	rows := repeatRows()
	whole := jsonWriterOf(t, rows, false)
	if got := resultsOf(t, whole); !reflect.DeepEqual(got, wantRepeatResults) {
		t.Fatalf("JSON: got %v, want %v", got, wantRepeatResults)
	}
	if n, err := testenv.ResultValues(whole); err != nil || n != len(rows) {
		t.Errorf("got %d values (%v), want %d", n, err, len(rows))
	}
	nd := jsonWriterOf(t, rows, true)
	if got := resultsOf(t, nd); !reflect.DeepEqual(got, wantRepeatResults) {
		t.Errorf("NDJSON: got %v, want %v", got, wantRepeatResults)
	}
	// Parts are cut between seconds: at 4 (second 1 begins) and 10.
	for _, cuts := range [][]int{{0, len(rows)}, {0, 4, len(rows)}, {0, 4, 10, len(rows)}, {0, 0, 4, 4, 10, len(rows)}} {
		for _, format := range []string{schema.FormatJSON, schema.FormatNDJSON} {
			var parts [][]byte
			var sizes []result.TextPart
			for i := 1; i < len(cuts); i++ {
				var e result.CSVEncoder
				var csv []byte
				for _, r := range rows[cuts[i-1]:cuts[i]] {
					csv = e.AppendRow(csv, &r)
				}
				var out bytes.Buffer
				if err := writeChunked(result.NewFragmentWriter(&out, format, nil), csv, 7); err != nil {
					t.Fatal(err)
				}
				parts = append(parts, out.Bytes())
				sizes = append(sizes, result.TextPart{CSV: int64(len(csv)), JSON: -1, Observations: -1})
			}
			got := assemble(t, result.TextLayout(format, sizes, "]\n").Segments(), parts)
			want := nd
			if format == schema.FormatJSON {
				got = append([]byte("["), got[len(result.EnvelopeHead):]...)
				want = whole
			} else {
				got = got[:len(got)-2] // the tail given
			}
			if !bytes.Equal(got, want) {
				t.Errorf("cuts %v %s: stitched parts\n%s\nwant\n%s", cuts, format, got, want)
			}
		}
	}
}

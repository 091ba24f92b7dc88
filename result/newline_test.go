package result_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// A name with a line break renders, cut into writes anywhere, as JSON
// that encoding/json reads back as the name, its break written \n.
func TestNewlineNameRenders(t *testing.T) {
	names := []string{"a\nb", "c\r\nd", "\n", `e"` + "\n" + `"f`, "g,\rh"}
	var rows []schema.Row
	for i, n := range names {
		rows = append(rows, schema.Row{Node: n, TS: t0, Sensor: names[(i+1)%len(names)], Feature: "f", Property: n, Value: float64(i)})
	}
	var e result.CSVEncoder
	var csv []byte
	for i := range rows {
		csv = e.AppendRow(csv, &rows[i])
	}
	var whole bytes.Buffer
	if err := writeAll(&whole, false, csv); err != nil {
		t.Fatalf("got %v rendering %q, want none", err, csv)
	}
	if !bytes.Contains(whole.Bytes(), []byte(`"c\r\nd"`)) {
		t.Fatalf("got %q, want \"c\\r\\nd\" escaped", whole.Bytes())
	}
	var obs []observationShape
	if err := json.Unmarshal(whole.Bytes(), &obs); err != nil || len(obs) != len(rows) {
		t.Fatalf("got %v decoding %d observations of %q, want %d", err, len(obs), whole.Bytes(), len(rows))
	}
	for i, o := range obs {
		if o.Node != rows[i].Node || o.Sensor != rows[i].Sensor || o.Results[rows[i].Property] == nil {
			t.Fatalf("observation %d is %+v, want the names of %+v", i, o, rows[i])
		}
	}
	for k := range len(csv) + 1 {
		for _, ndjson := range []bool{false, true} {
			var split, one bytes.Buffer
			if err := writeAll(&split, ndjson, csv[:k], csv[k:]); err != nil {
				t.Fatalf("got %v split at %d, want none", err, k)
			}
			if err := writeAll(&one, ndjson, csv); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(split.Bytes(), one.Bytes()) {
				t.Fatalf("split at %d: got %q, want %q", k, split.Bytes(), one.Bytes())
			}
		}
	}
	var frag bytes.Buffer
	w := result.NewFragmentWriter(&frag, schema.FormatJSON, nil)
	if _, err := w.Write(csv); err != nil || w.Close() != nil {
		t.Fatalf("FragmentWriter: got %v", err)
	}
	var r result.Renderer
	got, err := r.AppendLines(nil, csv)
	if got = r.Close(got); err != nil || !bytes.Equal(got, frag.Bytes()) {
		t.Fatalf("AppendLines: got %v, %q, want %q", err, got, frag.Bytes())
	}
}

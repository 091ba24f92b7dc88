package result_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// The renderer puts the node's meta_id in each observation, in Plenario's
// order of keys; a node it does not know gets 0.
func TestRendererCarriesMetaID(t *testing.T) {
	ids := schema.MetaIDs{"a": 4242}
	rows := []schema.Row{{Node: "a", TS: ts0, Sensor: "s", Feature: "f", Property: "p", Value: 1},
		{Node: "b", TS: ts0, Sensor: "s", Feature: "f", Property: "p", Value: 2}}
	want := `{"node":"a","meta_id":4242,"datetime":"2017-01-01T00:00:00","sensor":"s","feature":"f","results":{"p":1}}` + "\n" +
		`{"node":"b","meta_id":0,"datetime":"2017-01-01T00:00:00","sensor":"s","feature":"f","results":{"p":2}}` + "\n"
	var csvRows []byte
	var ce result.CSVEncoder
	for i := range rows {
		csvRows = ce.AppendRow(csvRows, &rows[i])
	}
	var out bytes.Buffer
	w := result.NewJSONWriter(&out, true, ids)
	if _, err := w.Write(csvRows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil || out.String() != want {
		t.Errorf("got %q (%v), want %q", out.String(), err, want)
	}
	var o schema.Observation
	if err := json.Unmarshal([]byte(want[:bytes.IndexByte([]byte(want), '\n')]), &o); err != nil || o.MetaID != 4242 {
		t.Errorf("got %+v (%v), want meta_id 4242", o, err)
	}
}

package schema_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

// FuzzParseFilter: no filter text panics or is half accepted; an accepted
// one echoes as a filter that means the same, both to the exporters
// (ParseStoredFilter) and when submitted again (ParseFilter).
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`{"op":"gt","prop":"temperature","val":30}`,
		`{"op":"and","val":[{"op":"in","col":"node","val":"000,001"},{"op":"isnot","prop":"x","val":null}]}`,
		`{"op":"or","val":[{"op":"ilike","col":"sensor","val":"T%"},{"op":"le","col":"datetime","val":"2017-5-1"}]}`,
		`{"op":"in","prop":"magnetic_field.z","val":[1,"2",-3.5e2]}`,
		`{"op":"eq","prop":"temperature","val":"1e400"}`,
		`[{"op":"eq"}]`,
	} {
		f.Add(s)
	}
	n := MustNetwork(f)
	sel := []schema.FeatureSel{{Feature: "magnetic_field"}, {Feature: "temperature"}}
	f.Fuzz(func(t *testing.T, raw string) {
		p := schema.Problems{}
		got := schema.ParseFilter(p, raw, n, sel)
		if (got == nil) == (len(p) == 0) {
			t.Fatalf("%q: got %v with problems %v", raw, got, p)
		}
		if got == nil {
			return
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := schema.ParseStoredFilter(b)
		if err != nil || !reflect.DeepEqual(stored, got) {
			t.Fatalf("%q echoes %s, read back as %+v (%v), want %+v", raw, b, stored, err, got)
		}
		again := schema.ParseFilter(schema.Problems{}, string(b), n, sel)
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("%q echoes %s, submitted again as %+v, want %+v", raw, b, again, got)
		}
	})
}

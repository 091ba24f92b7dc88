package schema_test

import (
	"reflect"
	"testing"

	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// The check the tests above rely on catches what used to be written.
func TestStrictJSONRejectsRepeatedKeys(t *testing.T) {
	for _, bad := range []string{
		`[{"results":{"temperature":14.11,"temperature":21.54}}]`,
		`{"data":[{"a":1,"a":1}]}`,
		"{\"a\":1}\n{\"b\":{\"c\":1,\"c\":2}}\n",
		`[{"a":1}`,
	} {
		if err := testenv.StrictJSON([]byte(bad)); err == nil {
			t.Errorf("got nil for %s, want an error", bad)
		}
	}
	if err := testenv.StrictJSON([]byte(`{"a":[{"a":1},{"a":2}],"b":{"a":null}}`)); err != nil {
		t.Errorf("got %v, want nil: keys repeat only across objects", err)
	}
}

func TestAppendReading(t *testing.T) {
	base := schema.Observation{Node: "a", MetaID: 7, Datetime: "t", Sensor: "s", Feature: "f"}
	tests := []struct {
		name  string
		props []string
		vals  []float64
		want  []map[string]float64
	}{
		{name: "distinct", props: []string{"z", "x", "y"}, vals: []float64{3, 1, 2}, want: []map[string]float64{{"x": 1, "y": 2, "z": 3}}},
		{name: "a repeat, values sorted", props: []string{"t", "t"}, vals: []float64{21.54, 14.11},
			want: []map[string]float64{{"t": 14.11}, {"t": 21.54}}},
		{name: "as the export splits", props: []string{"z", "x", "y", "x", "z"}, vals: []float64{5, 2, 3, 1, 4},
			want: []map[string]float64{{"x": 1}, {"x": 2, "y": 3, "z": 4}, {"z": 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := schema.AppendReading(nil, base, tt.props, tt.vals)
			var res []map[string]float64
			for _, o := range got {
				if o.Node != "a" || o.MetaID != 7 || o.Datetime != "t" || o.Sensor != "s" || o.Feature != "f" {
					t.Errorf("got %+v, want the base's fields", o)
				}
				res = append(res, o.Results)
			}
			if !reflect.DeepEqual(res, tt.want) {
				t.Errorf("got %v, want %v", res, tt.want)
			}
		})
	}
}

package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestWithDataType(t *testing.T) {
	for _, tt := range []struct{ link, format, want string }{
		{"http://h/v1/api/datadump/t", "csv", "http://h/v1/api/datadump/t?data_type=csv"},
		{"http://h/v1/api/datadump/t?data_type=csv", "json", "http://h/v1/api/datadump/t?data_type=json"},
		{"http://h/v1/api/datadump/t?data_type=ndjson", "ndjson", "http://h/v1/api/datadump/t?data_type=ndjson"},
	} {
		if got := withDataType(tt.link, tt.format); got != tt.want {
			t.Errorf("withDataType(%q, %q): got %q, want %q", tt.link, tt.format, got, tt.want)
		}
	}
}

// enterData finds the observations of Plenario's envelope, whatever its
// keys' order, and of a plain array.
func TestEnterData(t *testing.T) {
	for _, doc := range []string{
		`{"data":[{"results":{"a":1}}],"startTime":"s","endTime":"e","workers":["w"]}`,
		`{"startTime":"s","endTime":"e","workers":["w"],"data":[{"results":{"a":1}}]}`,
		`[{"results":{"a":1}}]`,
	} {
		dec := json.NewDecoder(strings.NewReader(doc))
		if err := enterData(dec); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		var o struct{ Results map[string]float64 }
		if !dec.More() || dec.Decode(&o) != nil || o.Results["a"] != 1 {
			t.Errorf("%s: got %+v, want the observation", doc, o)
		}
	}
	for _, bad := range []string{`{"startTime":"s"}`, `"x"`, `{"data":3}`} {
		if err := enterData(json.NewDecoder(strings.NewReader(bad))); err == nil {
			t.Errorf("%s: got nil, want an error", bad)
		}
	}
}

package schema_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		name     string
		input    []string // query string pairs besides filter
		filter   string
		want     string // the filter as echoed
		rowLevel bool
	}{
		{name: "a property leaf with prop, as the ticket era wrote it", input: []string{"feature", "temperature"},
			filter: `{"op":"gt","prop":"temperature","val":30}`, want: `{"op":"gt","prop":"temperature","val":30}`},
		{name: "col names a property too, as the later API wrote it; a numeric string is a number",
			input:  []string{"feature", "magnetic_field"},
			filter: `{"op":"le","col":"magnetic_field.X","val":"-0.5"}`, want: `{"op":"le","prop":"magnetic_field.x","val":-0.5}`},
		{name: "in takes Plenario's comma string", input: []string{"feature", "temperature"},
			filter: `{"op":"in","prop":"temperature","val":"20, 21.5"}`, want: `{"op":"in","prop":"temperature","val":[20,21.5]}`},
		{name: "in takes a list too", input: []string{"feature", "temperature"},
			filter: `{"op":"in","col":"sensor","val":["TMP112","htu21d"]}`, want: `{"op":"in","col":"sensor","val":["tmp112","htu21d"]}`,
			rowLevel: true},
		{name: "node names are the metadata's", input: []string{"feature", "temperature"},
			filter: `{"op":"eq","col":"node","val":"00a"}`, want: `{"op":"eq","col":"node_id","val":"00A"}`, rowLevel: true},
		{name: "like and ilike take patterns", input: []string{"feature", "temperature"},
			filter: `{"op":"or","val":[{"op":"like","col":"node_id","val":"00%"},{"op":"ilike","col":"sensor","val":"TMP_12"}]}`,
			want:   `{"op":"or","val":[{"op":"like","col":"node_id","val":"00%"},{"op":"ilike","col":"sensor","val":"TMP_12"}]}`, rowLevel: true},
		{name: "datetime, leniently written", input: []string{"feature", "temperature"},
			filter: `{"op":"ge","col":"datetime","val":"2017-5-30 1:00"}`, want: `{"op":"ge","col":"datetime","val":"2017-05-30T01:00:00"}`,
			rowLevel: true},
		{name: "is null and isnot null", input: []string{"features", "magnetic_field,temperature"},
			filter: `{"op":"and","val":[{"op":"is","prop":"temperature","val":null},{"op":"isnot","prop":"x","val":null}]}`,
			want:   `{"op":"and","val":[{"op":"is","prop":"temperature","val":null},{"op":"isnot","prop":"x","val":null}]}`},
		{name: "a tree of branches", input: []string{"features", "magnetic_field,temperature"},
			filter: `{"op":"or","val":[{"op":"gt","prop":"temperature.temperature","val":30},{"op":"and","val":[{"op":"gt","prop":"x","val":0},{"op":"lt","prop":"z","val":0}]}]}`,
			want:   `{"op":"or","val":[{"op":"gt","prop":"temperature.temperature","val":30},{"op":"and","val":[{"op":"gt","prop":"x","val":0},{"op":"lt","prop":"z","val":0}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := schema.ParseQuery(endpointOf(tt.input), vals(append(tt.input, "filter", tt.filter)...), MustNetwork(t), fixedNow)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(q.Filter)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
			if got := q.Filter.RowLevel(); got != tt.rowLevel {
				t.Errorf("row level: got %v, want %v", got, tt.rowLevel)
			}
			// A job carries the query as JSON: the filter comes back whole.
			qb, err := json.Marshal(q)
			if err != nil {
				t.Fatal(err)
			}
			var back schema.Query
			if err := json.Unmarshal(qb, &back); err != nil {
				t.Fatalf("%s: %v", qb, err)
			}
			if !reflect.DeepEqual(back.Filter, q.Filter) {
				t.Errorf("got %+v back from %s, want %+v", back.Filter, qb, q.Filter)
			}
		})
	}
}

func endpointOf(input []string) schema.Endpoint {
	if len(input) > 0 && input[0] == "feature" {
		return schema.Raw
	}
	return schema.Download
}

func TestParseFilterErrors(t *testing.T) {
	deep := `{"op":"gt","prop":"temperature","val":1}`
	for range schema.MaxFilterDepth {
		deep = `{"op":"and","val":[` + deep + `]}`
	}
	many := `{"op":"or","val":[` + strings.Repeat(`{"op":"gt","prop":"temperature","val":1},`, schema.MaxFilterLeaves) +
		`{"op":"gt","prop":"temperature","val":1}]}`
	tests := []struct {
		name, filter string
		want         []string
	}{
		{"bad JSON", `{"op":"gt"`, []string{"Not valid JSON: unexpected EOF."}},
		{"empty", ``, []string{"Not valid JSON: EOF."}},
		{"not an object", `[1]`, []string{`must be an object: {"op","col","val"} or {"op":"and"|"or","val":[…]}.`}},
		{"unknown op", `{"op":"between","prop":"temperature","val":1}`,
			[]string{`unknown op "between"; one of and, or, eq, ne, gt, ge, lt, le, like, ilike, in, is, isnot.`}},
		{"missing op", `{"prop":"temperature","val":1}`, []string{"missing op."}},
		{"missing val", `{"op":"eq","prop":"temperature"}`, []string{"missing val."}},
		{"missing col", `{"op":"eq","val":1}`, []string{"missing col (or prop)."}},
		{"both col and prop", `{"op":"eq","col":"sensor","prop":"temperature","val":1}`, []string{"give col or prop, not both."}},
		{"unknown key", `{"op":"eq","prop":"temperature","val":1,"value":2}`,
			[]string{`unknown key "value"; a condition has op, col (or prop) and val.`}},
		{"a property of a feature not queried", `{"op":"gt","prop":"magnetic_field.x","val":1}`,
			[]string{`Invalid column name: "magnetic_field.x" (columns: node_id, sensor, datetime; properties: temperature.temperature).`}},
		{"bad values, every one, by path", `{"op":"and","val":[{"op":"gt","prop":"temperature","val":"hot"},{"op":"eq","col":"datetime","val":"noon"},{"op":"eq","col":"node_id","val":"nope"},{"op":"in","col":"sensor","val":"tmp112,nah"},{"op":"eq","col":"sensor","val":7}]}`,
			[]string{"val[0]: Not a valid number.", "val[1]: Not a valid datetime.", "val[2]: Invalid node ID: nope",
				"val[3]: Invalid sensor name: nah", "val[4]: Not a valid string."}},
		{"like on a number", `{"op":"like","prop":"temperature","val":"3%"}`, []string{"like applies to node_id and sensor only."}},
		{"is with a value", `{"op":"is","prop":"temperature","val":3}`, []string{"is compares with null only: val must be null."}},
		{"an empty in", `{"op":"in","prop":"temperature","val":" , "}`, []string{`in takes at least one value: "a,b" or [a, b].`}},
		{"an empty and", `{"op":"and","val":[]}`, []string{"and takes a list of conditions as val."}},
		{"a fraction of a second", `{"op":"gt","col":"datetime","val":"2017-05-30T01:00:00.5"}`,
			[]string{"Datetimes in a filter are whole seconds."}},
		{"not finite", `{"op":"gt","prop":"temperature","val":"NaN"}`, []string{"Not a valid number."}},
		{"too deep", deep, []string{strings.Repeat("val[0].", schema.MaxFilterDepth-1)[:7*(schema.MaxFilterDepth-1)-1] +
			": Nested too deep: at most 8 levels."}},
		{"too many conditions", many, []string{"Too many conditions: at most 64."}},
		{"too large", `{"op":"in","prop":"temperature","val":"` + strings.Repeat("1,", schema.MaxFilterBytes) + `"}`,
			[]string{"Too large: at most 8192 bytes."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.ParseQuery(schema.Raw, vals("feature", "temperature", "filter", tt.filter), MustNetwork(t), fixedNow)
			got := invalidFields(t, err)
			if !reflect.DeepEqual(got, map[string][]string{"filter": tt.want}) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSingularAliases(t *testing.T) {
	n := MustNetwork(t)
	got, err := schema.ParseQuery(schema.Download, vals("node", "000", "nodes", "001", "sensor", "tmp112", "feature", "temperature"), n, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	want, err := schema.ParseQuery(schema.Download, vals("nodes", "000,001", "sensors", "tmp112", "features", "temperature"), n, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := schema.ParseQuery(schema.Raw, vals("feature", "temperature", "node", "000", "sensor", "tmp112"), n, fixedNow); err != nil {
		t.Errorf("raw: %v", err)
	}
}

func TestDownloadLimitEcho(t *testing.T) {
	for _, tt := range []struct {
		limit, offset string
		want          string
		capped        bool
	}{
		{"0", "", `"limit":0`, true},
		{"25", "10", `"limit":25,"offset":10`, true},
		{"", "10", `"offset":10`, false},
	} {
		in := vals()
		if tt.limit != "" {
			in.Set("limit", tt.limit)
		}
		if tt.offset != "" {
			in.Set("offset", tt.offset)
		}
		q, err := schema.ParseQuery(schema.Download, in, MustNetwork(t), fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(q)
		if !strings.Contains(string(b), tt.want) {
			t.Errorf("got %s, want it to hold %s", b, tt.want)
		}
		var back schema.Query
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Capped() != tt.capped || q.Capped() != tt.capped || back.Limit != q.Limit || back.Offset != q.Offset {
			t.Errorf("limit %q offset %q: got capped %v/%v back %+v, want capped %v", tt.limit, tt.offset, q.Capped(), back.Capped(), back, tt.capped)
		}
	}
}

// TestQueuedJSONWithFilter: the hand-written answer to /download holds the
// filter, the limit, the offset and the job's url as json.Marshal writes them.
func TestQueuedJSONWithFilter(t *testing.T) {
	q, err := schema.ParseQuery(schema.Download, vals("limit", "0", "offset", "5", "filter",
		`{"op":"or","val":[{"op":"like","col":"node_id","val":"<0%>"},{"op":"in","prop":"temperature.temperature","val":"1,2"}]}`),
		MustNetwork(t), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	req := schema.ExportRequest{Ticket: "12a639f8f73acdab7d48835c9b404664", Query: q, SubmittedAt: fixedNow}
	var rec schema.JobRecord
	rec.Apply(schema.Event{Kind: schema.EventQueued, Ticket: req.Ticket, Time: fixedNow, Request: &req})
	rec.Job.URL = "http://plenar.io/v1/api/jobs/" + req.Ticket
	got, ok := rec.Job.AppendQueuedJSON(nil)
	want, err := json.Marshal(rec.Job)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || string(got) != string(want) {
		t.Fatalf("AppendQueuedJSON (%v):\n got %s\nwant %s", ok, got, want)
	}
	for _, part := range []string{`"limit":0,"offset":5,"filter":{"op":"or"`, `,"url":"http://plenar.io/v1/api/jobs/12a6`} {
		if !strings.Contains(string(got), part) {
			t.Errorf("got %s, want it to hold %s", got, part)
		}
	}
}

func TestFilterPerRow(t *testing.T) {
	for _, tt := range []struct {
		features, filter string
		want             bool
	}{
		{"temperature", `{"op":"gt","prop":"temperature","val":30}`, true},
		{"", `{"op":"and","val":[{"op":"gt","prop":"temperature.temperature","val":30},{"op":"eq","col":"sensor","val":"tmp112"}]}`, true},
		{"temperature,magnetic_field", `{"op":"is","prop":"temperature","val":null}`, true},
		{"magnetic_field.x", `{"op":"gt","prop":"x","val":0.5}`, true},
		{"magnetic_field", `{"op":"gt","prop":"x","val":0.5}`, false},
		{"magnetic_field.y", `{"op":"gt","prop":"x","val":0.5}`, false},
		{"temperature,relative_humidity", `{"op":"or","val":[{"op":"gt","prop":"temperature","val":30},{"op":"lt","prop":"humidity","val":20}]}`, false},
		{"temperature", `{"op":"eq","col":"sensor","val":"tmp112"}`, true},
	} {
		in := vals("filter", tt.filter)
		if tt.features != "" {
			in.Set("features", tt.features)
		}
		q, err := schema.ParseQuery(schema.Download, in, MustNetwork(t), fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.FilterRows || q.Filter.RowLevel(); got != tt.want {
			t.Errorf("features %q filter %s: got per row %v, want %v", tt.features, tt.filter, got, tt.want)
		}
	}
}

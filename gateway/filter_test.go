package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

// TestQueryFilter: /query with a filter answers the readings it holds for,
// as many as ClickHouse counts, and echoes the filter.
func TestQueryFilter(t *testing.T) {
	f := startFixture(t)
	win := "&start_datetime=2026-10-30T00:00:00&end_datetime=2026-11-01T12:00:00"
	filter := `{"op":"and","val":[{"op":"gt","prop":"temperature","val":25},{"op":"eq","col":"sensor","val":"TMP112"}]}`
	var resp struct {
		Meta struct {
			Query map[string]any `json:"query"`
			Total int            `json:"total"`
		} `json:"meta"`
		Data []schema.Observation `json:"data"`
	}
	getJSON(t, f.url+"/query?feature=temperature&limit=10000&filter="+url.QueryEscape(filter)+win, &resp)
	var want uint64
	if err := f.ch.QueryRow(context.Background(), `SELECT count() FROM observations WHERE network = ? AND feature = 'temperature'
		AND sensor = 'tmp112' AND value > 25 AND ts >= toDateTime('2026-10-30 00:00:00') AND ts < toDateTime('2026-11-01 12:00:00')`,
		network).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if want == 0 || len(resp.Data) != int(want) || resp.Meta.Total != int(want) {
		t.Fatalf("got %d readings (total %d), want %d", len(resp.Data), resp.Meta.Total, want)
	}
	for _, o := range resp.Data {
		if o.Sensor != "tmp112" || o.Results["temperature"] <= 25 {
			t.Fatalf("reading %+v: want tmp112 above 25", o)
		}
	}
	var echo any
	_ = json.Unmarshal([]byte(`{"op":"and","val":[{"op":"gt","prop":"temperature","val":25},{"op":"eq","col":"sensor","val":"tmp112"}]}`), &echo)
	if !reflect.DeepEqual(resp.Meta.Query["filter"], echo) {
		t.Errorf("meta.query.filter is %v, want %v", resp.Meta.Query["filter"], echo)
	}
}

// TestFilterErrors: every kind of bad filter is a 400 keyed "filter" in
// Plenario's shape, on /query and on /download, never a 500.
func TestFilterErrors(t *testing.T) {
	f := startFixture(t)
	tests := []struct{ name, filter, want string }{
		{"bad JSON", `{"op":`, "Not valid JSON"},
		{"an unknown op", `{"op":"between","prop":"temperature","val":1}`, `unknown op "between"`},
		{"a missing key", `{"op":"gt","val":1}`, "missing col (or prop)"},
		{"a bad column", `{"op":"gt","col":"kelvin","val":1}`, `Invalid column name: "kelvin"`},
		{"a bad value", `{"op":"gt","prop":"temperature","val":"warm"}`, "Not a valid number."},
		{"too deep", strings.Repeat(`{"op":"and","val":[`, 9) + `{"op":"gt","prop":"temperature","val":1}` + strings.Repeat(`]}`, 9),
			"Nested too deep"},
		{"too many conditions", `{"op":"or","val":[` + strings.Repeat(`{"op":"gt","prop":"temperature","val":1},`, 64) +
			`{"op":"gt","prop":"temperature","val":1}]}`, "Too many conditions"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/query?feature=temperature&filter=", "/download?features=temperature&filter="} {
			t.Run(tt.name+" on "+path[1:strings.IndexByte(path, '?')], func(t *testing.T) {
				wantError(t, f.url+path+url.QueryEscape(tt.filter), http.StatusBadRequest, map[string]string{"filter": tt.want})
			})
		}
	}
	// Mangled filters, cut and spliced from valid ones: a 400 or a 200,
	// never anything else.
	valid := `{"op":"or","val":[{"op":"in","col":"node","val":"001e0610b000,001e0610b001"},{"op":"isnot","prop":"temperature","val":null},{"op":"ilike","col":"sensor","val":"t%"}]}`
	for i := 0; i < len(valid); i += 7 {
		for _, mangled := range []string{valid[:i], valid[i:], valid[:i] + `"` + valid[i:], valid[:i] + `[` + valid[i:]} {
			code, body := get(t, f.url+"/query?feature=temperature&filter="+url.QueryEscape(mangled))
			if code != http.StatusOK && code != http.StatusBadRequest {
				t.Fatalf("filter %s: got %d %s, want 200 or 400", mangled, code, body)
			}
		}
	}
}

// TestDownloadParameters: /download answers with the job's url, echoes
// limit and offset, and takes the singular aliases.
func TestDownloadParameters(t *testing.T) {
	f := startFixture(t)
	var job struct {
		Ticket  string `json:"ticket"`
		URL     string `json:"url"`
		Request struct {
			Query map[string]any `json:"query"`
		} `json:"request"`
	}
	q := "/download?feature=temperature&node=001e0610b000&nodes=001e0610b001&sensor=tmp112&limit=100&offset=20" +
		"&start_datetime=2026-10-31&end_datetime=2026-11-01"
	getJSON(t, f.url+q, &job)
	if want := f.svc.URL + "/v1/api/jobs/" + job.Ticket; job.URL != want {
		t.Errorf("got url %q, want %q", job.URL, want)
	}
	got, _ := json.Marshal(job.Request.Query)
	for _, part := range []string{`"features":["temperature"]`, `"nodes":["001e0610b000","001e0610b001"]`, `"sensors":["tmp112"]`,
		`"limit":100`, `"offset":20`} {
		if !strings.Contains(string(got), part) {
			t.Errorf("request.query is %s, want it to hold %s", got, part)
		}
	}
	// The same request again is the same job, with the same url.
	var again struct {
		Ticket string `json:"ticket"`
		URL    string `json:"url"`
	}
	getJSON(t, f.url+q, &again)
	if again.Ticket != job.Ticket || again.URL != job.URL {
		t.Errorf("again: got %s %s, want %s %s", again.Ticket, again.URL, job.Ticket, job.URL)
	}
	// A different limit is a different job.
	getJSON(t, f.url+strings.Replace(q, "limit=100", "limit=101", 1), &again)
	if again.Ticket == job.Ticket {
		t.Errorf("limit 101 got the ticket of limit 100")
	}
	wantError(t, f.url+"/download?limit=ten&offset=-1", http.StatusBadRequest,
		map[string]string{"limit": schema.MsgBadInteger, "offset": schema.MsgAtLeastZero})
	wantError(t, f.url+"/query?feature=temperature&node=nope", http.StatusBadRequest, map[string]string{"nodes": "Invalid node ID: nope"})
}

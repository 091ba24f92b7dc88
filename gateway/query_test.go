package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// The demo data every test here reads: 240 ticks 36 minutes apart, the last
// one 36 minutes before seedEnd, 9 values per node per tick.
var seedEnd = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const (
	network   = "array_of_things"
	seedTicks = 240
	seedStep  = 6 * 24 * time.Hour / seedTicks
	seedRows  = seedTicks * chstore.DemoNodes * 9
)

// Demo nodes (they stand where the first 100 nodes of the real Chicago
// nodes.csv stood) that the fixtures in testdata select, worked out from
// those places. The file names are older than the places: the south-west
// box holds eight nodes, three of them at one spot, and the "corners" are
// two small boxes downtown.
var (
	southwest3x3 = nodeIDs(7, 10, 36, 40, 46, 49, 51, 68) // testdata/southwest_3x3.geojson
	southwestRim = nodeIDs(7, 36, 40, 46, 49, 51, 68)     // testdata/southwest_3x3_hole.geojson: a hole around node 10
	twoCorners   = nodeIDs(0, 99)                         // testdata/two_corners.geojson
)

func nodeIDs(idx ...int) []string {
	out := make([]string, len(idx))
	for i, x := range idx {
		out[i] = fmt.Sprintf("001e0610b%03x", x)
	}
	return out
}

// fixture is a whole exportd on seeded demo data plus a ClickHouse
// connection of the test's own, for the independent queries.
type fixture struct {
	url string
	svc *testenv.Service
	ch  driver.Conn
	db  string
}

func startFixture(t *testing.T) *fixture {
	t.Helper()
	svc := testenv.StartService(t, testenv.ServiceOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork(network), seedRows, seedEnd); err != nil {
		t.Fatal(err)
	}
	ch, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()},
		Auth: clickhouse.Auth{Database: svc.Store.Database()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return &fixture{url: svc.URL + "/v1/api/sensor-networks/" + network, svc: svc, ch: ch, db: svc.Store.Database()}
}

// row is one observed value as the tests compare them.
type row struct {
	Node, Datetime, Sensor, Feature, Property string
	Value                                     float64
}

func sortRows(rs []row) []row {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Datetime != b.Datetime {
			return a.Datetime < b.Datetime
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		if a.Sensor != b.Sensor {
			return a.Sensor < b.Sensor
		}
		if a.Feature != b.Feature {
			return a.Feature < b.Feature
		}
		return a.Property < b.Property
	})
	return rs
}

// flatten turns readings into their values, one row per property.
func flatten(obs []schema.Observation) []row {
	var out []row
	for _, o := range obs {
		for p, v := range o.Results {
			out = append(out, row{o.Node, o.Datetime, o.Sensor, o.Feature, p, v})
		}
	}
	return out
}

// sqlWindow is the hand-written time condition of [from, to).
func sqlWindow(from, to time.Time) string {
	return fmt.Sprintf("ts >= toDateTime(%d) AND ts < toDateTime(%d)", from.Unix(), to.Unix())
}

func sqlList(items ...string) string {
	return "('" + strings.Join(items, "','") + "')"
}

// chReadings runs the raw query by hand: the readings matching cond, newest
// first, grouped as /query groups them.
func (f *fixture) chReadings(t *testing.T, cond string) []schema.Observation {
	t.Helper()
	rows, err := f.ch.Query(context.Background(), "SELECT node_id, ts, sensor, feature, groupArray(property), groupArray(value) FROM observations"+
		" WHERE network = '"+network+"' AND "+cond+" GROUP BY node_id, ts, sensor, feature ORDER BY ts DESC, node_id, sensor, feature")
	if err != nil {
		t.Fatalf("hand query: %v", err)
	}
	defer rows.Close()
	out := []schema.Observation{}
	for rows.Next() {
		var o schema.Observation
		var ts time.Time
		var props []string
		var vals []float64
		if err := rows.Scan(&o.Node, &ts, &o.Sensor, &o.Feature, &props, &vals); err != nil {
			t.Fatal(err)
		}
		o.Datetime, o.MetaID, o.Results = ts.UTC().Format(schema.DatetimeLayout), f.metaID(t, o.Node), map[string]float64{}
		for i, p := range props {
			o.Results[p] = vals[i]
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// chRows returns the values matching cond, sorted, and checks them against
// a separate count().
func (f *fixture) chRows(t *testing.T, cond string) []row {
	t.Helper()
	ctx := context.Background()
	w := " WHERE network = '" + network + "' AND " + cond
	rows, err := f.ch.Query(ctx, "SELECT node_id, ts, sensor, feature, property, value FROM observations"+w)
	if err != nil {
		t.Fatalf("hand query: %v", err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		var ts time.Time
		if err := rows.Scan(&r.Node, &ts, &r.Sensor, &r.Feature, &r.Property, &r.Value); err != nil {
			t.Fatal(err)
		}
		r.Datetime = ts.UTC().Format(schema.DatetimeLayout)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := f.ch.QueryRow(ctx, "SELECT count() FROM observations"+w).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != len(out) {
		t.Fatalf("hand query: count() %d, rows %d", n, len(out))
	}
	return sortRows(out)
}

var client = &http.Client{Timeout: 30 * time.Second}

// get fetches u and returns the status and the body.
func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatalf("GET %.200s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %.200s: read body: %v", u, err)
	}
	return resp.StatusCode, b
}

// getJSON fetches u, wants status 200 and decodes the body into v.
func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	status, b := get(t, u)
	if status != http.StatusOK {
		t.Fatalf("GET %.300s: got status %d, want 200; body %.500s", u, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %.300s: %v in %.500s", u, err, b)
	}
}

// plenarioError checks that body is Plenario's error shape,
// {"meta":{"query":{...}},"error":{"<param>":["<message>"]}}, and returns
// the messages by parameter.
func plenarioError(t *testing.T, body []byte) map[string][]string {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatalf("error body is not JSON: %v: %.500s", err, body)
	}
	if len(top) != 2 || top["meta"] == nil || top["error"] == nil {
		t.Fatalf("error body has keys %v, want meta and error: %.500s", keys(top), body)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(top["meta"], &meta); err != nil || len(meta) != 1 {
		t.Fatalf("meta is %s, want an object with only query", top["meta"])
	}
	var q map[string]any
	if err := json.Unmarshal(meta["query"], &q); err != nil || q == nil {
		t.Fatalf("meta.query is %s, want an object", meta["query"])
	}
	var fields map[string][]string
	if err := json.Unmarshal(top["error"], &fields); err != nil || len(fields) == 0 {
		t.Fatalf("error is %s, want messages keyed by parameter", top["error"])
	}
	for k, msgs := range fields {
		if len(msgs) == 0 {
			t.Fatalf("error.%s is empty", k)
		}
	}
	return fields
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// wantError fetches u and checks the status and that the body is Plenario's
// error shape carrying, for each parameter of want, a message containing
// want's text; no other parameter may be blamed.
func wantError(t *testing.T, u string, status int, want map[string]string) {
	t.Helper()
	got, body := get(t, u)
	if got != status {
		t.Fatalf("GET %.300s: got status %d, want %d; body %.500s", u, got, status, body)
	}
	fields := plenarioError(t, body)
	if !reflect.DeepEqual(keys(fields), keys(want)) {
		t.Fatalf("GET %.300s: error names %v, want %v: %s", u, keys(fields), keys(want), body)
	}
	for k, msg := range want {
		if !strings.Contains(strings.Join(fields[k], "\n"), msg) {
			t.Errorf("GET %.300s: error.%s is %q, want one containing %q", u, k, fields[k], msg)
		}
	}
}

func fixtureGeom(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

type queryResponse struct {
	Meta struct {
		Query   map[string]any `json:"query"`
		Total   int            `json:"total"`
		Message []string       `json:"message"`
	} `json:"meta"`
	Data []schema.Observation `json:"data"`
}

// pageAll reads every reading of a /query through pages of limit, checking
// each page's meta on the way.
func (f *fixture) pageAll(t *testing.T, args url.Values, limit int) []schema.Observation {
	t.Helper()
	var all []schema.Observation
	for offset := 0; ; offset += limit {
		a := url.Values{}
		for k, v := range args {
			a[k] = v
		}
		a.Set("limit", strconv.Itoa(limit))
		a.Set("offset", strconv.Itoa(offset))
		var r queryResponse
		getJSON(t, f.url+"/query?"+a.Encode(), &r)
		if r.Meta.Total != len(r.Data) || r.Meta.Message == nil || r.Meta.Query == nil {
			t.Fatalf("offset %d: meta %+v for %d readings", offset, r.Meta, len(r.Data))
		}
		all = append(all, r.Data...)
		if len(r.Data) < limit {
			return all
		}
		if offset > 200_000 {
			t.Fatal("paging does not end")
		}
	}
}

func compareReadings(t *testing.T, got, want []schema.Observation) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d readings, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("reading %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func tick(k int) time.Time { return seedEnd.Add(-time.Duration(k) * seedStep) }

// TestQueryFilters checks /query, filter by filter and in combinations,
// against the same question asked of ClickHouse by hand: the same readings
// in the same order, through every page.
func TestQueryFilters(t *testing.T) {
	f := startFixture(t)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	halfDay := sqlWindow(day, seedEnd)
	tests := []struct {
		name string
		args url.Values
		cond string // the hand-written ClickHouse condition
		want int    // readings, when known by counting the demo grid
	}{
		{
			name: "one feature, the rest defaulted",
			args: vals("feature", "temperature", "start_datetime", "2026-11-01T00:00:00", "end_datetime", "2026-11-01T12:00:00"),
			cond: "feature = 'temperature' AND " + halfDay,
			want: 20 * 100 * 3, // ticks 00:00..11:24, 100 nodes, 3 sensors measure temperature
		},
		{
			name: "feature names are case-insensitive",
			args: vals("feature", "Magnetic_FIELD", "start_datetime", "2026-11-01", "end_datetime", "2026-11-01T12:00"),
			cond: "feature = 'magnetic_field' AND " + halfDay,
			want: 20 * 100,
		},
		{
			name: "feature.property keeps only that property",
			args: vals("feature", "magnetic_field.Y", "start_datetime", "2026-11-01", "end_datetime", "2026-11-01T12:00:00Z"),
			cond: "feature = 'magnetic_field' AND property = 'y' AND " + halfDay,
			want: 20 * 100,
		},
		{
			name: "nodes, in any case",
			args: vals("feature", "temperature", "nodes", "001E0610B003,001e0610b04a", "start_datetime", "2026-10-30", "end_datetime", "2026-11-01T12:00:00"),
			cond: "feature = 'temperature' AND node_id IN " + sqlList(nodeIDs(3, 0x4a)...) + " AND " + sqlWindow(day.Add(-48*time.Hour), seedEnd),
			want: 100 * 2 * 3, // 60 hours hold 100 ticks
		},
		{
			name: "sensors",
			args: vals("feature", "temperature", "sensors", "TMP112,htu21d", "start_datetime", "2026-11-01", "end_datetime", "2026-11-01T12:00:00"),
			cond: "feature = 'temperature' AND sensor IN ('tmp112','htu21d') AND " + halfDay,
			want: 20 * 100 * 2,
		},
		{
			name: "a sensor that does not measure the feature selects nothing",
			args: vals("feature", "light_intensity", "sensors", "tmp112", "start_datetime", "2026-11-01", "end_datetime", "2026-11-01T12:00:00"),
			cond: "feature = 'light_intensity' AND sensor = 'tmp112' AND " + halfDay,
			want: 0,
		},
		{
			name: "geom: a polygon",
			args: vals("feature", "light_intensity", "geom", fixtureGeom(t, "southwest_3x3.geojson"), "start_datetime", "2026-11-01", "end_datetime", "2026-11-01T12:00:00"),
			cond: "feature = 'light_intensity' AND node_id IN " + sqlList(southwest3x3...) + " AND " + halfDay,
			want: 20 * len(southwest3x3),
		},
		{
			name: "geom: a polygon with a hole, as a Feature",
			args: vals("feature", "light_intensity", "geom", fixtureGeom(t, "southwest_3x3_hole.geojson"), "start_datetime", "2026-11-01", "end_datetime", "2026-11-01T12:00:00"),
			cond: "feature = 'light_intensity' AND node_id IN " + sqlList(southwestRim...) + " AND " + halfDay,
			want: 20 * len(southwestRim),
		},
		{
			name: "geom: a multipolygon as the first feature of a collection",
			args: vals("feature", "atmospheric_pressure", "geom", fixtureGeom(t, "two_corners.geojson"), "start_datetime", "2026-11-01", "end_datetime", "2026-11-01T12:00:00"),
			cond: "feature = 'atmospheric_pressure' AND node_id IN " + sqlList(twoCorners...) + " AND " + halfDay,
			want: 20 * 2,
		},
		{
			name: "start inclusive, end exclusive, on tick boundaries",
			args: vals("feature", "relative_humidity", "start_datetime", tick(10).Format("2006-01-02T15:04:05"), "end_datetime", tick(5).Format("2006-01-02T15:04:05")),
			cond: "feature = 'relative_humidity' AND " + sqlWindow(tick(10), tick(5)),
			want: 5 * 100,
		},
		{
			name: "lenient datetimes with offsets and fractions",
			args: vals("feature", "relative_humidity", "start_datetime", "2026-10-31T20:00:00.000-04:00", "end_datetime", "2026-11-1 06:00:00.5Z"),
			cond: "feature = 'relative_humidity' AND " + sqlWindow(day, day.Add(6*time.Hour+time.Second)),
			want: 11 * 100, // 00:00 to 06:00 included
		},
		{
			name: "a window older than the data",
			args: vals("feature", "temperature", "start_datetime", "2026-01-01", "end_datetime", "2026-02-01"),
			cond: "feature = 'temperature' AND " + sqlWindow(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)),
			want: 0,
		},
		{
			name: "the whole seeded week, sparse: one node, one sensor",
			args: vals("feature", "temperature", "nodes", "001e0610b042", "sensors", "tmp112", "start_datetime", "2026-10-25T12:00:00", "end_datetime", "2026-11-01T12:00:00"),
			cond: "feature = 'temperature' AND node_id = '001e0610b042' AND sensor = 'tmp112' AND " + sqlWindow(seedEnd.Add(-7*24*time.Hour), seedEnd),
			want: seedTicks,
		},
		{
			name: "the widest range there is, decades of it empty",
			args: vals("feature", "temperature", "nodes", "001e0610b042", "sensors", "tmp112", "start_datetime", "1970-01-01", "end_datetime", "2105-12-31T23:59:59"),
			cond: "feature = 'temperature' AND node_id = '001e0610b042' AND sensor = 'tmp112'",
			want: seedTicks,
		},
		{
			name: "geom, sensors and feature.property combined",
			args: vals("feature", "temperature.temperature", "sensors", "bmp180,tmp112", "geom", fixtureGeom(t, "southwest_3x3_hole.geojson"),
				"start_datetime", "2026-10-31T12:00:00", "end_datetime", "2026-11-01T12:00:00"),
			cond: "feature = 'temperature' AND property = 'temperature' AND sensor IN ('bmp180','tmp112') AND node_id IN " + sqlList(southwestRim...) +
				" AND " + sqlWindow(seedEnd.Add(-24*time.Hour), seedEnd),
			want: 40 * 2 * len(southwestRim),
		},
		{
			name: "nodes and geom intersect",
			args: vals("feature", "magnetic_field.z", "nodes", "001e0610b007,001e0610b00a,001e0610b063", "geom", fixtureGeom(t, "southwest_3x3_hole.geojson"),
				"start_datetime", "2026-10-31T12:00:00", "end_datetime", "2026-11-01T12:00:00"),
			cond: "feature = 'magnetic_field' AND property = 'z' AND node_id = '001e0610b007' AND " + sqlWindow(seedEnd.Add(-24*time.Hour), seedEnd),
			want: 40,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := f.chReadings(t, tt.cond)
			if len(want) != tt.want {
				t.Fatalf("the hand query finds %d readings, the demo grid says %d", len(want), tt.want)
			}
			// Pages of 1000 and of an odd size read the same sequence.
			compareReadings(t, f.pageAll(t, tt.args, 1000), want)
			compareReadings(t, f.pageAll(t, tt.args, 777), want)
			// The values are the table's, all of them.
			if got, wantRows := sortRows(flatten(want)), f.chRows(t, tt.cond); !reflect.DeepEqual(got, wantRows) {
				t.Fatalf("readings hold %d values, the table %d", len(got), len(wantRows))
			}
		})
	}
}

// TestQueryDefaults checks what /query does with only a feature: the
// newest readings first, the default limit, the resolved query echoed.
func TestQueryDefaults(t *testing.T) {
	f := startFixture(t)
	var r queryResponse
	getJSON(t, f.url+"/query?feature=temperature&end_datetime=2026-11-01T12:00:00", &r)
	if r.Meta.Total != schema.DefaultLimit || len(r.Data) != schema.DefaultLimit {
		t.Fatalf("got %d readings (total %d), want the default limit %d", len(r.Data), r.Meta.Total, schema.DefaultLimit)
	}
	want := f.chReadings(t, "feature = 'temperature' AND "+sqlWindow(seedEnd.Add(-schema.RawWindow), seedEnd))[:schema.DefaultLimit]
	compareReadings(t, r.Data, want)
	if r.Data[0].Datetime != tick(1).Format(schema.DatetimeLayout) {
		t.Errorf("first reading at %s, want the newest tick %s", r.Data[0].Datetime, tick(1))
	}
	q := r.Meta.Query
	if q["network"] != network || q["start_datetime"] != "2026-08-03T12:00:00" || q["end_datetime"] != "2026-11-01T12:00:00" ||
		!reflect.DeepEqual(q["features"], []any{"temperature"}) || q["limit"] != float64(schema.DefaultLimit) {
		t.Errorf("meta.query is %v, want the resolved query", q)
	}

	// The largest page there is.
	getJSON(t, f.url+"/query?feature=temperature&end_datetime=2026-11-01T12:00:00&limit=10000&offset=5", &r)
	if len(r.Data) != schema.MaxLimit {
		t.Fatalf("limit=10000: got %d readings", len(r.Data))
	}
	compareReadings(t, r.Data, f.chReadings(t, "feature = 'temperature' AND "+sqlWindow(seedEnd.Add(-schema.RawWindow), seedEnd))[5:5+schema.MaxLimit])

	// An offset's + left unencoded arrives as a space and still counts.
	getJSON(t, f.url+"/query?feature=temperature&start_datetime=2026-11-01T01:00:00+01:00&end_datetime=2026-11-01T13:00+01:00", &r)
	if q := r.Meta.Query; q["start_datetime"] != "2026-11-01T00:00:00" || q["end_datetime"] != "2026-11-01T12:00:00" {
		t.Errorf("unencoded offsets: window %v to %v, want 2026-11-01T00:00:00 to 2026-11-01T12:00:00", q["start_datetime"], q["end_datetime"])
	}
}

// TestQueryAgreesWithDownload checks that the bulk file holds exactly what
// /query pages through, and what ClickHouse holds, for the same filters.
func TestQueryAgreesWithDownload(t *testing.T) {
	f := startFixture(t)
	tests := []struct {
		name     string
		query    url.Values // /query's arguments
		download url.Values // /download's
		cond     string
		nodes    []string // the resolved nodes the ticket echoes, when checked
	}{
		{
			name:     "geom with a hole, two sensors, one day",
			query:    vals("feature", "temperature", "sensors", "tmp112,BMP180", "geom", fixtureGeom(t, "southwest_3x3_hole.geojson")),
			download: vals("features", "temperature", "sensors", "tmp112,BMP180", "geom", fixtureGeom(t, "southwest_3x3_hole.geojson")),
			cond:     "feature = 'temperature' AND sensor IN ('tmp112','bmp180') AND node_id IN " + sqlList(southwestRim...),
			nodes:    southwestRim,
		},
		{
			name:     "feature.property on listed nodes",
			query:    vals("feature", "magnetic_field.x", "nodes", "001e0610b005,001e0610b050,001e0610b063"),
			download: vals("features", "magnetic_field.x", "nodes", "001e0610b005,001e0610b050,001e0610b063"),
			cond:     "feature = 'magnetic_field' AND property = 'x' AND node_id IN " + sqlList(nodeIDs(5, 0x50, 0x63)...),
		},
		{
			name:     "a whole feature, every node",
			query:    vals("feature", "magnetic_field"),
			download: vals("features", "magnetic_field"),
			cond:     "feature = 'magnetic_field'",
		},
	}
	start, end := seedEnd.Add(-24*time.Hour), seedEnd
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, a := range []url.Values{tt.query, tt.download} {
				a.Set("start_datetime", start.Format("2006-01-02T15:04:05"))
				a.Set("end_datetime", end.Format("2006-01-02T15:04:05"))
			}
			want := f.chRows(t, tt.cond+" AND "+sqlWindow(start, end))
			if len(want) == 0 {
				t.Fatal("the hand query selects nothing: a vacuous comparison")
			}
			paged := sortRows(flatten(f.pageAll(t, tt.query, 1000)))
			if !reflect.DeepEqual(paged, want) {
				t.Fatalf("/query pages hold %d values, ClickHouse %d", len(paged), len(want))
			}
			dumped, job := f.download(t, tt.download)
			if !reflect.DeepEqual(sortRows(dumped), want) {
				t.Fatalf("the download holds %d values, ClickHouse %d", len(dumped), len(want))
			}
			// The ticket echoes the query as resolved: the nodes a geom selects.
			if rq := job.Request.Query; tt.nodes != nil && !reflect.DeepEqual(rq.Nodes, tt.nodes) {
				t.Errorf("the ticket's query has nodes %v, want %v", rq.Nodes, tt.nodes)
			}
		})
	}

	// Several features at once, which only /download takes.
	a := vals("features", "temperature.temperature,light_intensity", "nodes", "001e0610b007", "start_datetime", "2026-10-30", "end_datetime", "2026-11-01")
	want := f.chRows(t, "(feature = 'temperature' OR feature = 'light_intensity') AND node_id = '001e0610b007' AND "+
		sqlWindow(time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)))
	if got, _ := f.download(t, a); len(want) != 80*4 || !reflect.DeepEqual(sortRows(got), want) {
		t.Fatalf("download of two features: got %d values, want %d (ClickHouse)", len(got), len(want))
	}
}

// download submits an export, waits for it, and returns the rows of its
// CSV and the finished job's document.
func (f *fixture) download(t *testing.T, args url.Values) ([]row, schema.Job) {
	t.Helper()
	var job schema.Job
	getJSON(t, f.url+"/download?"+args.Encode(), &job)
	if !schema.IsTicket(job.Ticket) {
		t.Fatalf("no ticket in %+v", job)
	}
	testenv.Eventually(t, time.Minute, "the export succeeds", func() bool {
		getJSON(t, f.svc.URL+"/v1/api/jobs/"+job.Ticket, &job)
		if job.Status.Status == schema.StatusError {
			t.Fatalf("export failed: %+v", job.Result)
		}
		return job.Status.Status == schema.StatusSuccess
	})
	status, body := get(t, f.svc.URL+"/v1/api/datadump/"+job.Ticket+"?data_type=csv")
	if status != http.StatusOK {
		t.Fatalf("datadump: status %d: %.300s", status, body)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("datadump CSV: %v", err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",")+"\n" != schema.CSVHeader {
		t.Fatalf("datadump CSV starts %v, want the header %q", recs[:min(1, len(recs))], schema.CSVHeader)
	}
	out := []row{}
	for _, r := range recs[1:] {
		v, err := strconv.ParseFloat(r[5], 64)
		if err != nil {
			t.Fatalf("datadump CSV value %q: %v", r[5], err)
		}
		out = append(out, row{r[0], r[1], r[2], r[3], r[4], v})
	}
	return out, job
}

// TestQueryErrors checks that every bad /query or /download is a 400 in
// Plenario's shape naming each problem by parameter.
func TestQueryErrors(t *testing.T) {
	f := startFixture(t)
	win := "&start_datetime=2026-10-31&end_datetime=2026-11-01"
	tests := []struct {
		name string
		path string // after the network's URL, or a whole path when it starts with /
		want map[string]string
	}{
		{"no feature", "/query?nodes=001e0610b000" + win, map[string]string{"feature": "exactly one feature"}},
		{"an empty feature", "/query?feature=" + win, map[string]string{"feature": "exactly one feature"}},
		{"two features", "/query?feature=temperature,magnetic_field" + win, map[string]string{"feature": "Only one feature"}},
		{"the download's parameter on /query", "/query?features=temperature" + win, map[string]string{"features": schema.MsgNotAFilter, "feature": "exactly one feature"}},
		{"an unknown feature", "/query?feature=humidity" + win, map[string]string{"feature": "Invalid feature of interest name: humidity"}},
		{"an unknown property", "/query?feature=temperature.kelvin" + win, map[string]string{"feature": "Invalid feature of interest name: temperature.kelvin"}},
		{"an unknown node", "/query?feature=temperature&nodes=001e0610b000,nope" + win, map[string]string{"nodes": "Invalid node ID: nope"}},
		{"an unknown sensor", "/query?feature=temperature&sensors=tmp112,tmp999" + win, map[string]string{"sensors": "Invalid sensor name: tmp999"}},
		{"an unknown parameter", "/query?feature=temperature&colour=red" + win, map[string]string{"colour": schema.MsgNotAFilter}},
		{"limit past 10000", "/query?feature=temperature&limit=10001" + win, map[string]string{"limit": "between 1 and 10000"}},
		{"limit zero", "/query?feature=temperature&limit=0" + win, map[string]string{"limit": "between 1 and 10000"}},
		{"limit not a number", "/query?feature=temperature&limit=ten" + win, map[string]string{"limit": schema.MsgBadInteger}},
		{"negative offset", "/query?feature=temperature&offset=-1" + win, map[string]string{"offset": "Must be at least 0."}},
		{"offset past the maximum", "/query?feature=temperature&offset=100001" + win, map[string]string{"offset": "Must be between 0 and 100000."}},
		{"huge offset", "/query?feature=temperature&offset=99999999999999999999" + win, map[string]string{"offset": schema.MsgBadInteger}},
		{"a bad datetime", "/query?feature=temperature&start_datetime=yesterday&end_datetime=2017-2-30", map[string]string{
			"start_datetime": schema.MsgBadDatetime, "end_datetime": schema.MsgBadDatetime}},
		{"start after end", "/query?feature=temperature&start_datetime=2026-11-01&end_datetime=2026-10-31", map[string]string{"start_datetime": "before end_datetime"}},
		{"start equal to end", "/download?start_datetime=2026-11-01&end_datetime=2026-11-01", map[string]string{"start_datetime": "before end_datetime"}},
		{"geom that is not JSON", "/query?feature=temperature&geom=%7Bnope" + win, map[string]string{"geom": "Could not parse geojson"}},
		{"geom that selects no node", "/query?feature=temperature&geom=" + url.QueryEscape(fixtureGeom(t, "lake.geojson")) + win, map[string]string{"geom": "No node of network array_of_things"}},
		{"geom of an unsupported type", "/download?geom=" + url.QueryEscape(`{"type":"GeometryCollection","geometries":[]}`), map[string]string{"geom": "Could not parse geojson"}},
		{"an unknown network", "/../nowhere/query?feature=temperature" + win, map[string]string{"network": "Invalid network name: nowhere"}},
		{"an unknown network on download", "/../nowhere/download?features=temperature", map[string]string{"network": "Invalid network name: nowhere"}},
		{"a node list past 2000 items", "/query?feature=temperature&nodes=" + strings.Repeat("001e0610b000,", 2001) + win, map[string]string{"nodes": "Too many values"}},
		{"every problem at once", "/download?features=temperature,nope&nodes=x&sensors=y&start_datetime=then&limit=-1&geom=1", map[string]string{
			"features": "Invalid feature of interest name: nope", "nodes": "Invalid node ID: x", "sensors": "Invalid sensor name: y",
			"start_datetime": schema.MsgBadDatetime, "limit": schema.MsgAtLeastZero, "geom": "Could not parse geojson"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := f.url + tt.path
			if strings.HasPrefix(tt.path, "/../") {
				u = f.svc.URL + "/v1/api/sensor-networks/" + strings.TrimPrefix(tt.path, "/../")
			}
			wantError(t, u, http.StatusBadRequest, tt.want)
		})
	}

	// The echo in meta.query is the request's own arguments.
	_, body := get(t, f.url+"/query?feature=nope&limit=5")
	var e struct {
		Meta struct{ Query map[string]string } `json:"meta"`
	}
	if err := json.Unmarshal(body, &e); err != nil || !reflect.DeepEqual(e.Meta.Query, map[string]string{"feature": "nope", "limit": "5"}) {
		t.Errorf("meta.query is %v (%v), want the request's arguments", e.Meta.Query, err)
	}
}

// TestRequestLimits checks that requests past sane sizes are refused at
// once with a 4xx in Plenario's shape, and that the largest request that
// fits is still answered promptly.
func TestRequestLimits(t *testing.T) {
	f := startFixture(t)
	win := "&start_datetime=2026-10-31&end_datetime=2026-11-01"

	// A request line past the server's 32 KiB read buffer: fasthttp refuses
	// it before any handler runs.
	for name, u := range map[string]string{
		"a long request line": f.url + "/query?feature=temperature&x=" + strings.Repeat("a", 40<<10),
		"a geom past 32 KiB":  f.url + "/query?feature=temperature&geom=" + url.QueryEscape(bigPolygon(2000)) + win,
		"a long node list":    f.url + "/query?feature=temperature&nodes=" + strings.Repeat("001e0610b000,", 4000) + win,
	} {
		t.Run(name, func(t *testing.T) {
			began := time.Now()
			status, body := rawGet(t, u)
			if status != http.StatusRequestHeaderFieldsTooLarge {
				t.Fatalf("got status %d, want 431; body %.300s", status, body)
			}
			if fields := plenarioError(t, body); len(fields["request"]) == 0 || !strings.Contains(fields["request"][0], "32 KiB") {
				t.Errorf("error is %v, want a request message naming the limit", fields)
			}
			if d := time.Since(began); d > 2*time.Second {
				t.Errorf("refusal took %s", d)
			}
		})
	}

	// The largest geom that fits, 600 vertices around nodes 0 and 1, is
	// parsed and answered promptly.
	t.Run("a large geom that fits", func(t *testing.T) {
		g := bigPolygon(600)
		u := f.url + "/query?feature=temperature&geom=" + url.QueryEscape(g) + win
		if len(u) > 30<<10 {
			t.Fatalf("the URL is %d bytes, past what the test means", len(u))
		}
		began := time.Now()
		var r queryResponse
		getJSON(t, u, &r)
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("answer took %s", d)
		}
		if len(r.Data) == 0 {
			t.Fatal("no readings")
		}
		for _, o := range r.Data {
			if o.Node != nodeIDs(0)[0] && o.Node != nodeIDs(1)[0] {
				t.Fatalf("a reading of node %s, want only nodes 0 and 1", o.Node)
			}
		}
	})
}

// bigPolygon returns a polygon of n+1 positions on an ellipse between
// demo nodes 0 and 1 (downtown), large enough to hold those two only.
func bigPolygon(n int) string {
	var b strings.Builder
	b.WriteString(`{"type":"Polygon","coordinates":[[`)
	for i := 0; i <= n; i++ {
		a := 2 * math.Pi * float64(i%n) / float64(n)
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "[%.6f,%.6f]", -87.621867+0.025*math.Cos(a), 41.868257+0.012*math.Sin(a))
	}
	b.WriteString(`]]}`)
	return b.String()
}

// rawGet sends a GET over a bare connection and reads the answer, so that a
// server that answers before reading the whole request line is heard.
func rawGet(t *testing.T, u string) (int, []byte) {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", pu.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		_, _ = io.WriteString(c, "GET "+pu.RequestURI()+" HTTP/1.1\r\nHost: "+pu.Host+"\r\nConnection: close\r\n\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

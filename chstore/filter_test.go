package chstore_test

import (
	"context"
	"encoding/json"
	"net/url"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// exported reads q's rows as an export does, in testenv's terms.
func exported(t *testing.T, s *chstore.Store, q *schema.Query, skip, take int64) []testenv.Obs {
	t.Helper()
	it, err := s.OpenSlice(context.Background(), q, q.Start, q.End, skip, take)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := []testenv.Obs{}
	var r schema.Row
	for it.Next(&r) {
		out = append(out, testenv.Obs{Node: r.Node, TS: r.TS.UTC().Format(schema.DatetimeLayout), Sensor: r.Sensor,
			Feature: r.Feature, Property: r.Property, Value: r.Value})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sortObs(o []testenv.Obs) {
	sort.Slice(o, func(i, j int) bool {
		a, b := o[i], o[j]
		if a.TS != b.TS {
			return a.TS < b.TS
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
}

// TestFilterRows checks each kind of filter against a direct ClickHouse
// query written another way (joins on the observation's keys instead of
// grouped conditions), on the demo network.
func TestFilterRows(t *testing.T) {
	ctx := context.Background()
	s := testenv.MustOpenStore(t)
	n := chstore.DemoNetwork("aot")
	if err := s.Seed(ctx, n, 60_000, seedEnd); err != nil {
		t.Fatal(err)
	}
	const cols = "SELECT node_id, ts, sensor, feature, property, value FROM observations WHERE network = 'aot' AND "
	from := seedEnd.AddDate(0, 0, -3).Format(schema.DatetimeLayout)
	// Times of a few readings after from, for a datetime in.
	var times []string
	for _, o := range testenv.DirectRows(t, s, cols+"feature = 'magnetic_field' AND property = 'x' AND ts >= toDateTime(?) ORDER BY ts LIMIT 200",
		uint32(seedEnd.AddDate(0, 0, -3).Unix())) {
		if len(times) == 0 || times[len(times)-1] != o.TS {
			times = append(times, o.TS)
		}
	}
	inTimes, _ := json.Marshal(times)
	tests := []struct {
		name   string
		args   []string
		direct string
		params []any
	}{
		{name: "temperature above 28", args: []string{"features", "temperature", "filter", `{"op":"gt","prop":"temperature","val":28}`},
			direct: cols + "feature = 'temperature' AND value > 28"},
		{name: "y of the readings whose x is above 0.5", args: []string{"features", "magnetic_field.y", "filter", `{"op":"gt","col":"x","val":0.5}`},
			direct: cols + "feature = 'magnetic_field' AND property = 'y' AND (node_id, ts, sensor) IN " +
				"(SELECT node_id, ts, sensor FROM observations WHERE feature = 'magnetic_field' AND property = 'x' AND value > 0.5)"},
		{name: "x above 0.5, of x alone", args: []string{"features", "magnetic_field.x", "filter", `{"op":"gt","col":"x","val":0.5}`},
			direct: cols + "feature = 'magnetic_field' AND property = 'x' AND value > 0.5"},
		{name: "an or over two features", args: []string{"features", "temperature,relative_humidity",
			"filter", `{"op":"or","val":[{"op":"ge","prop":"temperature.temperature","val":"25"},{"op":"lt","prop":"humidity","val":25}]}`},
			direct: cols + "(feature = 'temperature' AND value >= 25 OR feature = 'relative_humidity' AND value < 25)"},
		{name: "an and of two properties of one reading", args: []string{"features", "magnetic_field",
			"filter", `{"op":"and","val":[{"op":"gt","prop":"x","val":0},{"op":"le","prop":"magnetic_field.z","val":0.5}]}`},
			direct: cols + "feature = 'magnetic_field' AND (node_id, ts, sensor) IN " +
				"(SELECT node_id, ts, sensor FROM observations WHERE feature = 'magnetic_field' AND property = 'x' AND value > 0) AND (node_id, ts, sensor) IN " +
				"(SELECT node_id, ts, sensor FROM observations WHERE feature = 'magnetic_field' AND property = 'z' AND value <= 0.5)"},
		{name: "columns only, row by row", args: []string{"features", "temperature", "filter",
			`{"op":"and","val":[{"op":"ilike","col":"sensor","val":"TMP%"},{"op":"like","col":"node_id","val":"001e0610b00%"},{"op":"ge","col":"datetime","val":"` + from + `"},{"op":"isnot","col":"sensor","val":null}]}`},
			direct: cols + "feature = 'temperature' AND sensor = 'tmp112' AND node_id LIKE '001e0610b00%' AND ts >= toDateTime(?)",
			params: []any{uint32(seedEnd.AddDate(0, 0, -3).Unix())}},
		{name: "in and ne", args: []string{"features", "temperature,light_intensity", "filter",
			`{"op":"and","val":[{"op":"in","col":"node","val":"001e0610b001,001e0610b002"},{"op":"ne","prop":"intensity","val":0}]}`},
			direct: cols + "feature = 'light_intensity' AND node_id IN ('001e0610b001', '001e0610b002') AND value != 0"},
		{name: "a grouped filter with every kind of column condition", args: []string{"features", "magnetic_field", "filter",
			`{"op":"and","val":[{"op":"gt","prop":"x","val":0},{"op":"lt","prop":"y","val":0.9},{"op":"ilike","col":"sensor","val":"HMC%"},` +
				`{"op":"like","col":"node_id","val":"%b01_"},{"op":"ne","col":"node","val":"001e0610b011"},{"op":"in","col":"sensor","val":"hmc5883l"},` +
				`{"op":"ge","col":"datetime","val":"` + from + `"},{"op":"in","col":"datetime","val":` + string(inTimes) + `},` +
				`{"op":"isnot","col":"node_id","val":null}]}`},
			direct: cols + "feature = 'magnetic_field' AND node_id LIKE '%b01_' AND node_id != '001e0610b011' AND toUInt32(ts) IN ? AND (node_id, ts, sensor) IN " +
				"(SELECT node_id, ts, sensor FROM observations WHERE feature = 'magnetic_field' AND property = 'x' AND value > 0) AND (node_id, ts, sensor) IN " +
				"(SELECT node_id, ts, sensor FROM observations WHERE feature = 'magnetic_field' AND property = 'y' AND value < 0.9)",
			params: []any{unixTimes(t, times)}},
		{name: "is null in a grouped filter", args: []string{"features", "magnetic_field,temperature",
			"filter", `{"op":"or","val":[{"op":"is","prop":"x","val":null},{"op":"gt","prop":"y","val":0.5}]}`},
			direct: cols + "(feature = 'temperature' OR feature = 'magnetic_field' AND (node_id, ts, sensor) IN " +
				"(SELECT node_id, ts, sensor FROM observations WHERE feature = 'magnetic_field' AND property = 'y' AND value > 0.5))"},
		{name: "is null keeps the readings without the property", args: []string{"features", "temperature,atmospheric_pressure",
			"filter", `{"op":"is","prop":"temperature","val":null}`},
			direct: cols + "feature = 'atmospheric_pressure'"},
		{name: "a property value in a list", args: []string{"features", "temperature", "filter", `{"op":"in","prop":"temperature","val":"10.5,-3,20"}`},
			direct: cols + "feature = 'temperature' AND value IN (10.5, -3, 20)"},
		{name: "a pattern with quotes and question marks matches nothing and breaks nothing", args: []string{"features", "temperature",
			"filter", `{"op":"like","col":"node_id","val":"' OR 1=1 -- ?"}`},
			direct: cols + "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := url.Values{"start_datetime": {"2000-01-01"}, "end_datetime": {seedEnd.Format(schema.DatetimeLayout)}}
			for i := 0; i < len(tt.args); i += 2 {
				args.Add(tt.args[i], tt.args[i+1])
			}
			q, err := schema.ParseQuery(schema.Download, args, n, seedEnd)
			if err != nil {
				t.Fatal(err)
			}
			want := testenv.DirectRows(t, s, tt.direct, tt.params...)
			if len(want) == 0 && tt.direct != cols+"0" {
				t.Fatalf("the direct query finds nothing: the case tests nothing")
			}
			got := exported(t, s, &q, 0, 0)
			sortObs(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %d rows, want %d (first got %v)", len(got), len(want), got[:min(3, len(got))])
			}
			if c, err := s.Count(ctx, &q); err != nil || c != int64(len(want)) {
				t.Errorf("count: got %d %v, want %d", c, err, len(want))
			}
			hist, err := s.Histogram(ctx, &q, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			var sum int64
			for _, b := range hist {
				sum += b.Rows
			}
			if sum != int64(len(want)) {
				t.Errorf("histogram: got %d rows, want %d", sum, len(want))
			}
			// A slice of the export is the same slice of the direct rows.
			if len(want) > 10 {
				if got := exported(t, s, &q, 3, 7); !reflect.DeepEqual(got, want[3:10]) {
					t.Errorf("rows 3..10: got %v, want %v", got, want[3:10])
				}
			}
		})
	}
}

// TestFilterRawQuery checks /query's grouped readings with a filter: each
// holds for it, and they are all there are.
func TestFilterRawQuery(t *testing.T) {
	ctx := context.Background()
	s := testenv.MustOpenStore(t)
	n := chstore.DemoNetwork("aot")
	if err := s.Seed(ctx, n, 30_000, seedEnd); err != nil {
		t.Fatal(err)
	}
	q, err := schema.ParseQuery(schema.Raw, url.Values{"feature": {"magnetic_field"}, "limit": {"10000"},
		"filter": {`{"op":"gt","prop":"y","val":0.9}`}}, n, seedEnd)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := s.Observations(ctx, &q)
	if err != nil {
		t.Fatal(err)
	}
	want := testenv.DirectRows(t, s, "SELECT node_id, ts, sensor, feature, property, value FROM observations WHERE network = 'aot' AND "+
		"feature = 'magnetic_field' AND property = 'y' AND value > 0.9 AND ts >= toDateTime(?)", uint32(q.Start.Unix()))
	if len(obs) != len(want) || len(want) == 0 {
		t.Fatalf("got %d readings, want %d", len(obs), len(want))
	}
	for _, o := range obs {
		if o.Results["y"] <= 0.9 || len(o.Results) != 3 {
			t.Fatalf("reading %+v: want y above 0.9 and x, y, z", o)
		}
	}
	// A deep page is that page of the whole answer: slices skipped by count.
	q.Offset, q.Limit = len(obs)-7, 5
	page, err := s.Observations(ctx, &q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(page, obs[len(obs)-7:len(obs)-2]) {
		t.Errorf("got page %v, want %v", page, obs[len(obs)-7:len(obs)-2])
	}
}

// unixTimes is times as a bound set of ClickHouse DateTimes.
func unixTimes(t *testing.T, times []string) clickhouse.GroupSet {
	var out []any
	for _, s := range times {
		ts, err := time.Parse(schema.DatetimeLayout, s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, uint32(ts.Unix()))
	}
	return clickhouse.GroupSet{Value: out}
}

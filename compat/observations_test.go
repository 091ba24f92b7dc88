package compat_test

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/internal/testenv"
)

// direct counts rows of the fixture network matching cond, on a
// connection of the test's own: the independent answer.
func (p *plenario) direct(t *testing.T, sel, cond string) int {
	t.Helper()
	ch, err := clickhouse.Open(&clickhouse.Options{Addr: []string{testenv.ClickHouseAddr()},
		Auth: clickhouse.Auth{Database: p.svc.Store.Database()}})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	var n uint64
	if err := ch.QueryRow(context.Background(), "SELECT "+sel+" FROM observations WHERE network = 'test_network' AND "+cond).Scan(&n); err != nil {
		t.Fatalf("direct: %v", err)
	}
	return int(n)
}

var plenarioDatetime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$`)

// TestPlenarioQuery: test_sensor_networks.py's /query tests and the
// observation records of sensor_networks.py's format_observation.
func TestPlenarioQuery(t *testing.T) {
	p := startPlenario(t)
	qy := p.net + "/query"

	t.Run("test_query_endpoint_returns_correct_observation_count_total", func(t *testing.T) {
		wantTotal(t, qy+"?nodes=test_node&feature=vector&start_datetime=2016-01-01", 300)
	})
	t.Run("test_query_endpoint_returns_correct_observation_count_windowed", func(t *testing.T) {
		wantTotal(t, qy+"?nodes=test_node&feature=vector&start_datetime=2016-10-01&end_datetime=2016-10-03", 200)
	})
	// sn:get_observations at T: start_datetime defaults to 90 days before
	// now (PLENARIO.md §3), reaching node_2's reading of 30 days ago.
	t.Run("get_observations_default_window", func(t *testing.T) {
		wantTotal(t, qy+"?nodes=node_2&feature=temperature", liveReadings+1)
	})
	// PLENARIO.md: the original parser was lenient.
	t.Run("lenient_datetimes", func(t *testing.T) {
		wantTotal(t, qy+"?nodes=test_node&feature=vector&start_datetime=2016-10-1&end_datetime=2016-10-3T00:00:00.000", 200)
	})
	t.Run("format_observation", func(t *testing.T) {
		a := wantTotal(t, qy+"?nodes=test_node&feature=vector&start_datetime=2016-10-01&end_datetime=2016-10-02&limit=5", 5)
		for _, o := range a.data(t) {
			wantKeys(t, "observation", o, "node", "meta_id", "datetime", "sensor", "feature", "results")
			if path(o, "node") != "test_node" || path(o, "sensor") != "sensor_02" || path(o, "feature") != "vector" {
				t.Errorf("observation %v, want test_node's sensor_02 vector", o)
			}
			if d, _ := path(o, "datetime").(string); !plenarioDatetime.MatchString(d) {
				t.Errorf("datetime %q, want YYYY-MM-DDTHH:MM:SS", d)
			}
			if _, ok := path(o, "meta_id").(float64); !ok {
				t.Errorf("meta_id %v, want a number", path(o, "meta_id"))
			}
			wantKeys(t, "results", path(o, "results"), "x", "y")
		}
	})
	// PLENARIO.md §12: one meta_id per node configuration, the same on
	// every row of a node while its metadata is unchanged.
	t.Run("meta_id_per_node", func(t *testing.T) {
		a := getJSON(t, qy+"?feature=temperature&start_datetime=2016-10-01&end_datetime=2016-10-02&limit=400", 200)
		ids := map[string]map[float64]bool{}
		for _, o := range a.data(t) {
			n, _ := path(o, "node").(string)
			m, ok := path(o, "meta_id").(float64)
			if !ok {
				t.Fatalf("observation %v: no numeric meta_id", o)
			}
			if ids[n] == nil {
				ids[n] = map[float64]bool{}
			}
			ids[n][m] = true
		}
		if len(ids) != 2 || len(ids["test_node"]) != 1 || len(ids["node_2"]) != 1 {
			t.Errorf("meta_ids by node %v, want one for each of the two nodes", ids)
		}
	})
	t.Run("feature_dot_property", func(t *testing.T) {
		a := wantTotal(t, qy+"?nodes=test_node&feature=vector.x&start_datetime=2016-10-01&end_datetime=2016-10-02&limit=3", 3)
		for _, o := range a.data(t) {
			wantKeys(t, "results of vector.x", path(o, "results"), "x")
		}
	})
	t.Run("sensors_and_nodes_lists", func(t *testing.T) {
		wantTotal(t, qy+"?nodes=test_node,node_2&sensors=sensor_01&feature=temperature&start_datetime=2016-10-01&end_datetime=2016-10-02", 200)
		wantTotal(t, qy+"?nodes=test_node&sensors=sensor_01,sensor_03&feature=temperature&start_datetime=2016-10-01&end_datetime=2016-10-02", 200)
	})
	t.Run("names_case_insensitive", func(t *testing.T) {
		wantTotal(t, qy+"?nodes=TEST_NODE&sensors=SENSOR_02&feature=VECTOR&start_datetime=2016-10-01&end_datetime=2016-10-02", 100)
	})
	// Plenario never filtered /query's rows by geom (PLENARIO.md §3); we
	// select the nodes within it, as the older section says we do.
	t.Run("geom_selects_nodes", func(t *testing.T) {
		wantTotal(t, qy+"?feature=vector&start_datetime=2016-10-01&end_datetime=2016-10-02&"+geom(chicago)[1:], 100)
		a := get(t, qy+"?feature=vector&start_datetime=2016-10-01&end_datetime=2016-10-02&"+geom(lakeForNodes)[1:])
		if a.code != 400 || path(a.doc, "error", "geom") == nil {
			t.Errorf("an area without nodes: got %d %.300s, want 400 keyed geom", a.code, a.body)
		}
	})
	t.Run("limit_and_offset", func(t *testing.T) {
		all := getJSON(t, qy+"?nodes=test_node&feature=vector&start_datetime=2016-10-01&end_datetime=2016-10-02&limit=20", 200).data(t)
		page := wantTotal(t, qy+"?nodes=test_node&feature=vector&start_datetime=2016-10-01&end_datetime=2016-10-02&limit=10&offset=5", 10).data(t)
		if len(all) != 20 || !reflect.DeepEqual(page, all[5:15]) {
			t.Errorf("limit=10&offset=5 is not rows 5..14 of limit=20")
		}
	})
	t.Run("validate_bad_names", func(t *testing.T) {
		wantError(t, qy+"?feature=bogus", "feature", "Invalid feature of interest name: bogus")
		wantError(t, qy+"?feature=vector&nodes=bogus", "nodes", "Invalid node ID: bogus")
		wantError(t, qy+"?feature=vector&sensors=bogus", "sensors", "Invalid sensor name: bogus")
		wantError(t, p.api+"/sensor-networks/bogus/query?feature=vector", "network", "Invalid network name: bogus")
	})
	t.Run("marshmallow_messages", func(t *testing.T) {
		wantError(t, qy+"?feature=vector&start_datetime=yesterday", "start_datetime", "Not a valid datetime.")
		wantError(t, qy+"?feature=vector&limit=ten", "limit", "Not a valid integer.")
		wantError(t, qy+"?feature=vector&offset=-1", "offset", "Must be at least 0.")
		wantError(t, qy+"?feature=vector&bogus=1", "bogus", "Not a valid filter")
	})
	t.Run("missing_feature", func(t *testing.T) {
		a := get(t, qy+"?nodes=test_node")
		if a.code != 400 || path(a.doc, "error", "feature") == nil {
			t.Errorf("no feature: got %d %.300s, want 400 keyed feature", a.code, a.body)
		}
	})

	// condition_builder.py's trees: a prop leaf (T), col leaves and
	// branches (H); the count is ClickHouse's own.
	window := "&nodes=test_node&start_datetime=2016-01-01"
	t.Run("filter_prop_leaf", func(t *testing.T) {
		want := p.direct(t, "count()", "feature = 'vector' AND property = 'x' AND value > 0.5 AND node_id = 'test_node'")
		if want == 0 || want == 300 {
			t.Fatalf("fixture: %d readings with x > 0.5", want)
		}
		wantTotal(t, qy+"?feature=vector"+window+"&"+q("filter", `{"op":"gt","prop":"x","val":0.5}`)[1:], want)
	})
	t.Run("filter_col_branch", func(t *testing.T) {
		want := p.direct(t, "count()", "feature = 'temperature' AND node_id = 'test_node' AND (sensor = 'sensor_01' OR value <= 0.25)")
		f := `{"op":"or","val":[{"op":"eq","col":"sensor","val":"sensor_01"},{"op":"le","col":"temperature","val":0.25}]}`
		wantTotal(t, qy+"?feature=temperature"+window+"&"+q("filter", f)[1:], want)
	})
	t.Run("filter_every_operator", func(t *testing.T) {
		for _, f := range []string{`{"op":"eq","col":"node_id","val":"test_node"}`, `{"op":"ne","col":"sensor","val":"sensor_01"}`,
			`{"op":"ge","prop":"temperature","val":0.5}`, `{"op":"lt","prop":"temperature","val":0.5}`,
			`{"op":"like","col":"sensor","val":"sensor_0%"}`, `{"op":"ilike","col":"sensor","val":"SENSOR_0%"}`,
			`{"op":"in","col":"sensor","val":"sensor_01,sensor_03"}`, `{"op":"isnot","prop":"temperature","val":null}`} {
			a := get(t, qy+"?feature=temperature"+window+"&limit=1&"+q("filter", f)[1:])
			if a.code != 200 {
				t.Errorf("filter %s: got %d %.300s", f, a.code, a.body)
			}
		}
	})
	t.Run("valid_tree_bad_tree", func(t *testing.T) {
		for _, f := range []string{`{"op":"gt","prop":"x"`, `{"op":"between","prop":"x","val":1}`, `{"op":"gt","val":1}`, `{"op":"gt","prop":"nope","val":1}`} {
			a := get(t, qy+"?feature=vector"+window+"&"+q("filter", f)[1:])
			if a.code != 400 || path(a.doc, "error", "filter") == nil {
				t.Errorf("filter %s: got %d %.300s, want 400 keyed filter (H answered 500 to some: PLENARIO.md §3)", f, a.code, a.body)
			}
		}
	})
}

func sumCounts(t *testing.T, buckets []any, prop string) int {
	t.Helper()
	n := 0
	for _, b := range buckets {
		c, ok := path(b, prop, "count").(float64)
		if !ok {
			t.Fatalf("bucket %v: no %s.count", b, prop)
		}
		n += int(c)
	}
	return n
}

// TestPlenarioAggregate: test_sensor_networks.py's /aggregate tests and
// sensor_aggregate_functions.py's answer.
func TestPlenarioAggregate(t *testing.T) {
	p := startPlenario(t)
	ag := p.net + "/aggregate"
	twoDays := "&start_datetime=2016-10-01&end_datetime=2016-10-03"

	t.Run("test_aggregate_endpoint_returns_correct_bucket_count", func(t *testing.T) {
		wantTotal(t, ag+"?node=test_node&function=avg&feature=vector"+twoDays, 48)
	})
	t.Run("test_aggregate_endpoint_returns_correct_observation_count", func(t *testing.T) {
		// T summed the first property's counts of feature=vector; H asks for vector.x.
		if n := sumCounts(t, getJSON(t, ag+"?node=test_node&function=avg&feature=vector"+twoDays, 200).data(t), "x"); n != 200 {
			t.Errorf("vector: %d x values, want 200", n)
		}
		d := getJSON(t, ag+"?node=test_node&function=avg&feature=vector.x"+twoDays, 200).data(t)
		if n := sumCounts(t, d, "x"); n != 200 {
			t.Errorf("vector.x: %d values, want 200", n)
		}
		if len(d) > 0 {
			wantKeys(t, "vector.x bucket", d[0], "time_bucket", "x")
		}
	})
	t.Run("test_aggregate_endpoint_returns_correct_observation_count_with_sensor_filter", func(t *testing.T) {
		d := getJSON(t, ag+"?node=test_node&function=avg&feature=temperature&sensors=sensor_03"+twoDays, 200).data(t)
		if n := sumCounts(t, d, "temperature"); n != 200 {
			t.Errorf("%d values, want 200", n)
		}
	})
	t.Run("test_aggregate_endpoint_returns_correct_observation_count_with_node_filter", func(t *testing.T) {
		d := getJSON(t, ag+"?node=node_2&function=avg&feature=temperature&sensors=sensor_01"+
			"&start_datetime=2016-10-01%2000:00:00&end_datetime=2016-10-02%2000:00:00", 200).data(t)
		if n := sumCounts(t, d, "temperature"); n != 100 {
			t.Errorf("%d values, want 100", n)
		}
	})
	t.Run("aggregate_names_case_insensitive", func(t *testing.T) {
		wantTotal(t, ag+"?node=TEST_node&feature=VECTOR"+twoDays, 48)
	})
	t.Run("aggregate_response_shape", func(t *testing.T) {
		d := getJSON(t, ag+"?node=test_node&feature=temperature"+twoDays, 200).data(t)
		if len(d) != 48 || path(d, "0", "time_bucket") != "2016-10-01T00:00:00" || path(d, "47", "time_bucket") != "2016-10-02T23:00:00" {
			t.Fatalf("buckets: %d from %v to %v, want 48 hours ascending from 2016-10-01T00:00:00", len(d), path(d, "0", "time_bucket"), path(d, "47", "time_bucket"))
		}
		wantKeys(t, "bucket value", path(d, "0", "temperature"), "avg", "count")
		want := p.direct(t, "count()", "feature = 'temperature' AND node_id = 'test_node' AND ts >= '2016-10-01 00:00:00' AND ts < '2016-10-03 00:00:00'")
		if n := sumCounts(t, d, "temperature"); n != want {
			t.Errorf("counts sum to %d, want ClickHouse's %d", n, want)
		}
	})
	t.Run("aggregate_empty_buckets", func(t *testing.T) {
		d := getJSON(t, ag+"?node=test_node&feature=temperature&start_datetime=2016-09-30T22:00:00&end_datetime=2016-10-01T02:00:00", 200).data(t)
		if len(d) != 4 || !reflect.DeepEqual(path(d, "0", "temperature"), map[string]any{"avg": nil, "count": 0.0}) {
			t.Errorf("got %v, want 4 buckets, the first {avg:null,count:0}", d)
		}
	})
	t.Run("aggregate_no_data", func(t *testing.T) {
		if d := wantTotal(t, ag+"?node=test_node&feature=vector&start_datetime=2015-01-01&end_datetime=2015-01-02", 0).data(t); len(d) != 0 {
			t.Errorf("got %v, want []", d)
		}
	})
	// §12: every function with count beside it, every agg working.
	t.Run("aggregate_functions", func(t *testing.T) {
		for _, fn := range []string{"avg", "std", "var", "min", "max", "med"} {
			d := getJSON(t, ag+"?node=test_node&feature=temperature&function="+fn+twoDays, 200).data(t)
			if len(d) != 48 {
				t.Errorf("%s: %d buckets", fn, len(d))
				continue
			}
			wantKeys(t, fn+" bucket value", path(d, "0", "temperature"), fn, "count")
		}
	})
	t.Run("aggregate_agg_values", func(t *testing.T) {
		for agg, want := range map[string]int{"minute": 2880, "hour": 48, "day": 2, "week": 1, "month": 1, "year": 1} {
			d := getJSON(t, ag+"?node=test_node&feature=vector&agg="+agg+twoDays, 200).data(t)
			if len(d) != want || sumCounts(t, d, "x") != 200 {
				t.Errorf("agg=%s: %d buckets with %d x values, want %d with 200", agg, len(d), sumCounts(t, d, "x"), want)
			}
		}
	})
	// sa:aggregate at T: start_datetime defaults to a day before the end.
	t.Run("aggregate_default_window", func(t *testing.T) {
		d := getJSON(t, ag+"?node=node_2&feature=temperature", 200).data(t)
		if len(d) < 24 || len(d) > 25 || sumCounts(t, d, "temperature") != liveReadings {
			t.Errorf("%d buckets holding %d readings, want the last day's hours with the %d live readings", len(d), sumCounts(t, d, "temperature"), liveReadings)
		}
	})
	t.Run("aggregate_validation", func(t *testing.T) {
		wantError(t, ag+"?feature=vector", "node", "Missing data for required field.")
		wantError(t, ag+"?node=test_node&feature=vector&agg=fortnight", "agg", "Invalid value.")
		a := get(t, ag+"?node=test_node")
		if a.code != 400 || path(a.doc, "error", "feature") == nil {
			t.Errorf("no feature: got %d %.300s, want 400 keyed feature", a.code, a.body)
		}
		a = get(t, ag+"?node=test_node&feature=temperature&sensors=sensor_02"+twoDays)
		if e, _ := a.doc["error"].(string); a.code != 400 || !strings.HasPrefix(e, "Your query returns no results. You have specified filters which are likely contradictory") {
			t.Errorf("no matching column: got %d %.300s", a.code, a.body)
		}
	})
}

// TestPlenarioNearestCheckMap: /nearest (M), /check (T) and /map (H).
func TestPlenarioNearestCheckMap(t *testing.T) {
	p := startPlenario(t)
	at := fmt.Sprintf("lat=%v&lng=%v", nodeLat, nodeLon)

	t.Run("get_observation_nearest", func(t *testing.T) {
		a := getJSON(t, p.net+"/nearest?"+at+"&feature=temperature&datetime=2016-10-02T12:00:00", 200)
		d := a.data(t)
		if len(d) != 1 {
			t.Fatalf("data %v, want one observation", d)
		}
		wantKeys(t, "nearest observation", d[0], "node", "meta_id", "datetime", "sensor", "feature", "results")
		ts, err := time.Parse("2006-01-02T15:04:05", fmt.Sprint(path(d[0], "datetime")))
		if err != nil || ts.Sub(time.Date(2016, 10, 2, 12, 0, 0, 0, time.UTC)).Abs() > 12*time.Hour {
			t.Errorf("datetime %v, want within 12 h of the one asked", path(d[0], "datetime"))
		}
	})
	// datetime defaults to now: node_2's reading of 10 minutes ago is the
	// closest in time (test_node has none within 12 hours).
	t.Run("get_observation_nearest_default_datetime", func(t *testing.T) {
		d := getJSON(t, p.net+"/nearest?"+at+"&feature=temperature", 200).data(t)
		if len(d) != 1 || path(d, "0", "node") != "node_2" || path(d, "0", "results", "temperature") != 21.0 {
			t.Errorf("data %v, want node_2's reading of 21 ten minutes ago", d)
		}
	})
	t.Run("get_observation_nearest_not_reported", func(t *testing.T) {
		d := getJSON(t, p.net+"/nearest?"+at+"&feature=vector&datetime=2015-10-02T12:00:00", 200).data(t)
		if !reflect.DeepEqual(d, []any{"Your feature has not been reported on by the nearest 10 nodes at the time provided."}) {
			t.Errorf("data %v", d)
		}
	})
	t.Run("get_observation_nearest_validation", func(t *testing.T) {
		wantError(t, p.net+"/nearest?lng=-87.6&feature=temperature", "lat", "Missing data for required field.")
		wantError(t, p.net+"/nearest?lat=north&lng=-87.6&feature=temperature", "lat", "Not a valid number.")
	})
	t.Run("check_metadata", func(t *testing.T) {
		a := getJSON(t, p.net+"/check?nodes=test_node,bogus&features=vector,bogus&sensors=sensor_01", 200)
		want := []any{
			map[string]any{"field": "nodes", "valid": []any{"test_node"}, "invalid": []any{"bogus"}},
			map[string]any{"field": "features", "valid": []any{"vector"}, "invalid": []any{"bogus"}},
			map[string]any{"field": "sensors", "valid": []any{"sensor_01"}, "invalid": []any{}},
		}
		if !reflect.DeepEqual(a.doc["data"], want) || !reflect.DeepEqual(a.doc["meta"], map[string]any{}) {
			t.Errorf("got %s, want meta {} and data %v", a.body, want)
		}
	})
	t.Run("check_metadata_bad_network", func(t *testing.T) {
		wantError(t, p.api+"/sensor-networks/bogus/check?nodes=test_node", "network", "Invalid network name: bogus")
	})
	t.Run("get_network_map", func(t *testing.T) {
		a := getJSON(t, p.net+"/map", 200)
		wantKeys(t, "map", a.doc, "test_node", "node_2")
		wantKeys(t, "test_node", a.doc["test_node"], "sensor_01", "sensor_02", "sensor_03")
		wantKeys(t, "node_2", a.doc["node_2"], "sensor_01", "sensor_02")
		var props []string
		for _, v := range path(a.doc, "test_node", "sensor_02").(map[string]any) {
			props = append(props, fmt.Sprint(v))
		}
		if sort.Strings(props); strings.Join(props, ",") != "vector.x,vector.y" {
			t.Errorf("sensor_02's values %v, want vector.x and vector.y", props)
		}
	})
	t.Run("get_network_map_bad_network", func(t *testing.T) {
		wantError(t, p.api+"/sensor-networks/bogus/map", "", "Invalid network name: bogus")
	})
}

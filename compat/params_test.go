package compat_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestPlenarioParameters: what Plenario's views did with the query string
// beyond their tests' happy paths, read from sensor_networks.py and
// validator.py (T = commit cce06cea unless H, the last commit, is named).
func TestPlenarioParameters(t *testing.T) {
	p := startPlenario(t)
	sn := p.api + "/sensor-networks"

	// T sn:get_network_metadata validates args = {"network": <path>}
	// only: the query string is never read (H's marshmallow ignores
	// unknown keys too), so a cache-buster such as jQuery's _= passes.
	t.Run("get_network_metadata_reads_no_args", func(t *testing.T) {
		wantTotal(t, sn+"?_=1480000000000&foo=bar", 2)
		wantTotal(t, sn+"/test_network?nodes=bogus&_=1", 1)
	})
	// T sn:get_node_metadata, get_sensor_metadata, get_feature_metadata:
	// dict(request.args.to_dict(), **{"network": network, "nodes": …}):
	// the path's values replace network and the list of the query string
	// (H: args.update likewise), which are therefore ignored, not "Not a
	// valid filter".
	t.Run("path_values_replace_the_query", func(t *testing.T) {
		wantTotal(t, p.net+"/nodes?nodes=bogus&network=bogus", 2)
		a := wantTotal(t, p.net+"/nodes/test_node?nodes=node_2", 1)
		if id := path(a.doc, "data", "0", "properties", "id"); id != "test_node" {
			t.Errorf("/nodes/test_node?nodes=node_2: %v, want test_node", id)
		}
		wantTotal(t, p.net+"/sensors?sensors=bogus", 3)
		wantTotal(t, p.net+"/sensors/sensor_02?network=other&sensors=sensor_01", 1)
		wantTotal(t, p.net+"/features?features=bogus", 2)
		// What the path does not replace is still not a filter of these views.
		wantError(t, p.net+"/nodes?sensors=sensor_01", "sensors", "Not a valid filter")
	})
	// T sn:check_metadata validates only the network and reads nodes,
	// features and sensors; H sn:check reads node or nodes, sensor or
	// sensors, feature or features. Neither refuses another argument.
	t.Run("check_aliases_and_other_args", func(t *testing.T) {
		a := getJSON(t, p.net+"/check?node=test_node&feature=vector,bogus&sensor=bogus&_=1", 200)
		want := []any{
			map[string]any{"field": "nodes", "valid": []any{"test_node"}, "invalid": []any{}},
			map[string]any{"field": "features", "valid": []any{"vector"}, "invalid": []any{"bogus"}},
			map[string]any{"field": "sensors", "valid": []any{}, "invalid": []any{"bogus"}},
		}
		if !reflect.DeepEqual(a.doc["data"], want) {
			t.Errorf("got %s, want data %v", a.body, want)
		}
	})
	// T tests test_geom_filter_for_node_metadata_*: the geom is put in the
	// URL as written, unescaped or half escaped ("type"%3A"Feature"%2C…).
	t.Run("test_geom_filter_for_node_metadata_unescaped", func(t *testing.T) {
		wantTotal(t, p.net+"/nodes?geom="+chicagoForNodes, 2)
		half := strings.NewReplacer(":", "%3A", ",", "%2C").Replace(chicagoForNodes)
		wantTotal(t, p.net+"/nodes?geom="+half, 2)
		a := get(t, p.net+"/nodes?geom="+lakeForNodes)
		if a.code != 400 || a.doc["error"] == nil {
			t.Errorf("lake: got %d %.300s, want a 400 with an error", a.code, a.body)
		}
	})
	// T sn:sanitize_args lowercases every argument before validation, so
	// that function=AVG and agg=HOUR are avg and hour, and a network name
	// in the path is found whatever its case.
	t.Run("sanitize_args_lowercases", func(t *testing.T) {
		wantTotal(t, p.net+"/aggregate?node=test_node&feature=vector&function=AVG&agg=HOUR&start_datetime=2016-10-01&end_datetime=2016-10-03", 48)
		wantTotal(t, sn+"/TEST_Network/query?nodes=test_node&feature=vector&start_datetime=2016-10-01&end_datetime=2016-10-03", 200)
	})
	// The explorer's moment().utc().format() is 2016-10-01T00:00:00+00:00
	// before moment 2.13 (Z after): jQuery sends the + as %2B, T's
	// sanitize_args cut at "+"; written by hand in a URL the + is a space.
	t.Run("datetime_offsets", func(t *testing.T) {
		for _, w := range []string{"start_datetime=2016-10-01T00:00:00%2B00:00&end_datetime=2016-10-03T00:00:00%2B00:00",
			"start_datetime=2016-10-01T00:00:00+00:00&end_datetime=2016-10-03T00:00:00+00:00",
			"start_datetime=2016-10-01T00:00:00Z&end_datetime=2016-10-03T00:00:00.000Z"} {
			wantTotal(t, p.net+"/query?nodes=test_node&feature=vector&"+w, 200)
			wantTotal(t, p.net+"/aggregate?node=test_node&feature=vector&"+w, 48)
		}
	})
}

// TestPlenarioNearest: H's tests/test_sensor_network/test_nearest.py, on
// the fixture network (its nodes are some 700 km from lat 41, lng -80).
func TestPlenarioNearest(t *testing.T) {
	p := startPlenario(t)
	u := p.net + "/nearest"
	t.Run("test_nearest_good_request", func(t *testing.T) {
		getJSON(t, u+"?feature=temperature&lat=41&lng=-80", 200)
	})
	t.Run("test_nearest_bad_feature", func(t *testing.T) {
		wantError(t, u+"?feature=tmprtr&lat=41&lng=-80", "feature", "Invalid feature of interest name: tmprtr")
	})
	t.Run("test_nearest_malformed_request", func(t *testing.T) {
		wantError(t, u+"?feature=temperature&lat=41", "lng", "Missing data for required field.")
	})
	t.Run("nearest_feature_property", func(t *testing.T) {
		// H's Feature field and T's feature.split(".")[0]: a property is of its feature.
		d := getJSON(t, u+fmt.Sprintf("?feature=vector.x&lat=%v&lng=%v&datetime=2016-10-02T12:00:00", nodeLat, nodeLon), 200).data(t)
		if len(d) != 1 || path(d, "0", "feature") != "vector" {
			t.Errorf("data %v, want one vector observation", d)
		}
	})
}

// TestKeptDifferent: where Plenario's behaviour was a failure or an
// accident a client cannot rely on, we answer a clear 400 instead (see
// doc.go). Each case cites what Plenario did.
func TestKeptDifferent(t *testing.T) {
	p := startPlenario(t)
	qy := p.net + "/query?feature=vector&nodes=test_node"
	// T sn:observation_query: q.limit(limit) if limit: limit=0 was no
	// limit at all and nothing bounded a larger one; /query is the fast
	// path (PLENARIO.md: at most 10000), /download is for more.
	t.Run("query_limit_bounds", func(t *testing.T) {
		wantError(t, qy+"&limit=0", "limit", "Must be between 1 and 10000.")
		wantError(t, qy+"&limit=10001", "limit", "Must be between 1 and 10000.")
		wantTotal(t, qy+"&limit=10000&start_datetime=2016-01-01", 300)
	})
	// T and H filtered datetime >= start AND datetime < end: a window
	// that is empty or backwards answered no rows (and, for /download, a
	// job that never reached success); we say why.
	t.Run("empty_window", func(t *testing.T) {
		for _, u := range []string{qy, p.net + "/aggregate?node=test_node&feature=vector", p.net + "/download?nodes=test_node"} {
			wantError(t, u+"&start_datetime=2016-10-02&end_datetime=2016-10-02", "start_datetime", "start_datetime must be before end_datetime.")
		}
	})
	// T point.py:get_datadump served JSON for any data_type but csv; the
	// formats are more than two now, and a mistyped one is said to be so.
	// It also read no other argument, so that a mistyped data_typ=csv
	// would be JSON; ours is "Not a valid filter".
	t.Run("datadump_unknown_data_type", func(t *testing.T) {
		a := get(t, p.api+"/datadump/"+strings.Repeat("0", 32)+"?data_type=geojson")
		if a.code != http.StatusBadRequest || path(a.doc, "error", "data_type") == nil {
			t.Errorf("got %d %.300s, want 400 keyed data_type", a.code, a.body)
		}
		wantError(t, p.api+"/datadump/"+strings.Repeat("0", 32)+"?data_typ=csv", "data_typ", "Not a valid filter")
	})
}

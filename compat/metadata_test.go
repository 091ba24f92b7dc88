package compat_test

import (
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"testing"

	"github.com/plenario-next/exportd/internal/testenv"
)

// The areas of Plenario's geom tests (test_sensor_networks.py), as given.
const (
	lakeForNodes    = `{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[-86.7315673828125,42.24275208539065],[-86.7315673828125,42.370720143531955],[-86.50360107421875,42.370720143531955],[-86.50360107421875,42.24275208539065],[-86.7315673828125,42.24275208539065]]]}}`
	badGeom         = `{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[Why hello!],[-86.7315673828125,42.370720143531955],[-86.50360107421875,42.370720143531955],[-86.50360107421875,42.24275208539065],[-86.7315673828125,42.24275208539065]]]}}`
	chicagoForNodes = `{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[-87.747802734375,41.75799552006108],[-87.747802734375,41.93088998442502],[-87.5555419921875,41.93088998442502],[-87.5555419921875,41.75799552006108],[-87.747802734375,41.75799552006108]]]}}`
	lakeForSensors  = `{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[-87.39486694335938,41.823525308461456],[-87.39486694335938,41.879786443521795],[-87.30972290039062,41.879786443521795],[-87.30972290039062,41.823525308461456],[-87.39486694335938,41.823525308461456]]]}}`
	lakeForFeatures = `{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[-87.37770080566405,41.95131994679697],[-87.37770080566405,41.96357478222518],[-87.36328125,41.96357478222518],[-87.36328125,41.95131994679697],[-87.37770080566405,41.95131994679697]]]}}`
	chicago         = `{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[-87.76290893554688,41.7559466348148],[-87.76290893554688,41.95029860413911],[-87.51983642578125,41.95029860413911],[-87.51983642578125,41.7559466348148],[-87.76290893554688,41.7559466348148]]]}}`
)

func geom(g string) string { return "?geom=" + url.QueryEscape(g) }

// keys returns the sorted keys of a JSON object.
func keys(v any) []string {
	m, _ := v.(map[string]any)
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func wantKeys(t *testing.T, what string, v any, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := keys(v); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: keys %v, want %v (%v)", what, got, want, v)
	}
}

func wantTotal(t *testing.T, u string, want int) answer {
	t.Helper()
	a := getJSON(t, u, 200)
	if got := a.total(t); got != want {
		t.Errorf("GET %.300s: meta.total %d, want %d", u, got, want)
	}
	if got := len(a.data(t)); got != want {
		t.Errorf("GET %.300s: %d records, want meta.total's %d", u, got, want)
	}
	return a
}

// TestPlenarioMetadata: tests/test_sensor_network/test_sensor_networks.py's
// metadata tests, and the records of sensor_networks.py's format_*.
func TestPlenarioMetadata(t *testing.T) {
	p := startPlenario(t)
	sn := p.api + "/sensor-networks"

	t.Run("test_network_metadata_with_no_args", func(t *testing.T) { wantTotal(t, sn, 2) })
	t.Run("test_network_metadata_returns_bad_request", func(t *testing.T) {
		wantError(t, sn+"/bad_network", "network", "Invalid network name: bad_network")
	})
	t.Run("test_network_metadata_case_insensitive", func(t *testing.T) { wantTotal(t, sn+"/TEST_network", 1) })
	t.Run("test_node_metadata_with_no_args", func(t *testing.T) { wantTotal(t, p.net+"/nodes", 2) })
	t.Run("test_node_metadata_returns_bad_request", func(t *testing.T) {
		wantError(t, p.net+"/nodes/bad_node", "nodes", "Invalid node ID: bad_node")
	})
	t.Run("test_node_metadata_with_arg", func(t *testing.T) { wantTotal(t, p.net+"/nodes/test_node", 1) })
	t.Run("test_node_metadata_case_insensitive", func(t *testing.T) { wantTotal(t, p.net+"/nodes/TEST_node", 1) })
	t.Run("test_node_metadata_returns_address_in_properties", func(t *testing.T) {
		a := wantTotal(t, p.net+"/nodes/test_node", 1)
		if got := path(a.doc, "data", "0", "properties", "address"); got != address {
			t.Errorf("address %v, want %q", got, address)
		}
	})
	t.Run("test_sensor_metadata_returns_with_no_args", func(t *testing.T) { getJSON(t, p.net+"/sensors", 200) })
	t.Run("test_feature_metadata_returns_200_with_no_args", func(t *testing.T) { getJSON(t, p.net+"/features", 200) })
	t.Run("test_sensor_metadata_returns_bad_request", func(t *testing.T) {
		wantError(t, p.net+"/sensors/bad_sensor", "sensors", "Invalid sensor name: bad_sensor")
	})
	t.Run("test_feature_metadata_returns_bad_request", func(t *testing.T) {
		wantError(t, p.net+"/features/bad_feature", "features", "Invalid feature of interest name: bad_feature")
	})
	t.Run("test_sensor_metadata_returns_correct_number_of_results", func(t *testing.T) { wantTotal(t, p.net+"/sensors", 3) })
	t.Run("test_feature_metadata_returns_correct_number_of_results", func(t *testing.T) { wantTotal(t, p.net+"/features", 2) })
	t.Run("test_sensor_metadata_case_insensitive", func(t *testing.T) { wantTotal(t, p.net+"/sensors/SENSor_01", 1) })
	t.Run("test_feature_metadata_case_insensitive", func(t *testing.T) { wantTotal(t, p.net+"/features/VECtor", 1) })

	// An empty area: Plenario's tests ask only for "error"; the message is
	// H's, which the explorer matches (PLENARIO.md §12).
	t.Run("test_geom_filter_for_node_metadata_empty_filter", func(t *testing.T) {
		wantError(t, p.net+"/nodes"+geom(lakeForNodes), "", "No features found within "+lakeForNodes+"!")
	})
	t.Run("test_geom_filter_for_node_metadata_bad_filter", func(t *testing.T) {
		wantError(t, p.net+"/nodes"+geom(badGeom), "geom", "Invalid geom: "+badGeom)
	})
	t.Run("test_geom_filter_for_node_metadata_good_filter", func(t *testing.T) { wantTotal(t, p.net+"/nodes"+geom(chicagoForNodes), 2) })
	t.Run("test_geom_filter_for_sensor_metadata", func(t *testing.T) {
		wantError(t, p.net+"/sensors"+geom(lakeForSensors), "", "No sensors found within "+lakeForSensors+"!")
		wantTotal(t, p.net+"/sensors"+geom(chicago), 3)
	})
	t.Run("test_geom_filter_for_feature_metadata", func(t *testing.T) {
		wantError(t, p.net+"/features"+geom(lakeForFeatures), "", "No features found within "+lakeForFeatures+"!")
		wantTotal(t, p.net+"/features"+geom(chicago), 2)
	})

	t.Run("json_response_base", func(t *testing.T) {
		a := getJSON(t, p.net+"/nodes", 200)
		wantKeys(t, "envelope", a.doc, "meta", "data")
		wantKeys(t, "meta", a.doc["meta"], "query", "message", "total")
		if m, ok := path(a.doc, "meta", "message").([]any); !ok || len(m) != 0 {
			t.Errorf("meta.message %v, want T's []", path(a.doc, "meta", "message"))
		}
	})
	t.Run("format_network", func(t *testing.T) {
		a := wantTotal(t, sn+"/test_network", 1)
		rec := path(a.doc, "data", "0")
		wantKeys(t, "network", rec, "name", "info", "nodes", "sensors", "features")
		for k, want := range map[string][]string{"nodes": {"node_2", "test_node"},
			"sensors": {"sensor_01", "sensor_02", "sensor_03"}, "features": {"temperature", "vector"}} {
			if got := strList(path(rec, k)); !reflect.DeepEqual(got, want) {
				t.Errorf("network %s: %v, want %v", k, got, want)
			}
		}
	})
	t.Run("format_node_metadata", func(t *testing.T) {
		a := wantTotal(t, p.net+"/nodes/test_node", 1)
		rec := path(a.doc, "data", "0")
		wantKeys(t, "node", rec, "type", "geometry", "properties")
		if path(rec, "type") != "Feature" || path(rec, "geometry", "type") != "Point" {
			t.Errorf("node %v, want a GeoJSON Feature with a Point", rec)
		}
		if c := path(rec, "geometry", "coordinates"); !reflect.DeepEqual(c, []any{nodeLon, nodeLat}) {
			t.Errorf("coordinates %v, want [lon, lat] = [%v, %v]", c, nodeLon, nodeLat)
		}
		wantKeys(t, "node properties", path(rec, "properties"), "id", "network", "sensors", "info", "address")
		if got := strList(path(rec, "properties", "sensors")); !reflect.DeepEqual(got, []string{"sensor_01", "sensor_02", "sensor_03"}) {
			t.Errorf("sensors %v", got)
		}
		if path(rec, "properties", "network") != testNetwork {
			t.Errorf("network %v", path(rec, "properties", "network"))
		}
	})
	t.Run("format_sensor_metadata", func(t *testing.T) {
		a := wantTotal(t, p.net+"/sensors/sensor_02", 1)
		rec := path(a.doc, "data", "0")
		wantKeys(t, "sensor", rec, "name", "properties", "info")
		if got := strList(path(rec, "properties")); !reflect.DeepEqual(got, []string{"vector.x", "vector.y"}) {
			t.Errorf("properties %v, want [vector.x vector.y]", got)
		}
	})
	// Each property has a common_name (PLENARIO.md §12: the explorer keeps
	// only properties with one), beside the name and type stored.
	t.Run("format_feature_metadata", func(t *testing.T) {
		a := wantTotal(t, p.net+"/features/vector", 1)
		rec := path(a.doc, "data", "0")
		wantKeys(t, "feature", rec, "name", "properties")
		props, _ := path(rec, "properties").([]any)
		if len(props) != 2 {
			t.Fatalf("properties %v, want x and y", props)
		}
		for i, name := range []string{"x", "y"} {
			pr := props[i]
			if path(pr, "name") != name || path(pr, "type") != "float" {
				t.Errorf("property %d: %v, want name %s, type float", i, pr, name)
			}
			if cn, _ := path(pr, "common_name").(string); cn == "" {
				t.Errorf("property %s: no common_name in %v", name, pr)
			}
		}
	})
	t.Run("sensor_network_validate_unknown_param", func(t *testing.T) {
		wantError(t, p.net+"/nodes?foo=bar", "foo", "Not a valid filter")
	})
	t.Run("validate_network_on_nodes", func(t *testing.T) {
		wantError(t, sn+"/bad_network/nodes", "network", "Invalid network name: bad_network")
	})
	t.Run("validate_node_of_another_network", func(t *testing.T) {
		wantError(t, sn+"/"+otherNet+"/nodes/test_node", "nodes", "Invalid node ID: test_node")
	})
	t.Run("crossdomain_head", func(t *testing.T) {
		resp, body := testenv.Do(t, http.MethodHead, p.net+"/nodes")
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Errorf("HEAD: %d with %d bytes, want 200 and no body", resp.StatusCode, len(body))
		}
	})
	t.Run("network_without_nodes", func(t *testing.T) {
		a := wantTotal(t, sn+"/"+otherNet, 1)
		if got := strList(path(a.doc, "data", "0", "nodes")); len(got) != 0 {
			t.Errorf("nodes of %s: %v, want none", otherNet, got)
		}
	})
}

// strList returns a JSON list of strings, sorted; nil if v is no list.
func strList(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

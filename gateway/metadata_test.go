package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"testing"

	"github.com/plenario-next/exportd/chstore"
)

// metadataResponse is Plenario's metadata envelope with the data left raw,
// so that each test decodes it into the shape it checks.
type metadataResponse struct {
	Meta struct {
		Message []string       `json:"message"`
		Total   int            `json:"total"`
		Query   map[string]any `json:"query"`
	} `json:"meta"`
	Data []json.RawMessage `json:"data"`
}

// getMetadata fetches u, checks the envelope and returns the data items.
func getMetadata(t *testing.T, u string) []json.RawMessage {
	t.Helper()
	var top map[string]json.RawMessage
	getJSON(t, u, &top)
	if !reflect.DeepEqual(keys(top), []string{"data", "meta"}) {
		t.Fatalf("GET %s: keys %v, want data and meta", u, keys(top))
	}
	var r metadataResponse
	b, _ := json.Marshal(top)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Meta.Message == nil || len(r.Meta.Message) != 0 || r.Meta.Query == nil || r.Meta.Total != len(r.Data) {
		t.Fatalf("GET %s: meta %+v for %d items, want an empty message list, the query and the total", u, r.Meta, len(r.Data))
	}
	return r.Data
}

// objectKeys returns the sorted keys of a JSON object.
func objectKeys(t *testing.T, b json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return keys(m)
}

type nodeDoc struct {
	Type     string `json:"type"`
	Geometry struct {
		Type        string    `json:"type"`
		Coordinates []float64 `json:"coordinates"`
	} `json:"geometry"`
	Properties struct {
		ID      string         `json:"id"`
		Network string         `json:"network"`
		Sensors []string       `json:"sensors"`
		Info    map[string]any `json:"info"`
		Address string         `json:"address"`
	} `json:"properties"`
}

func decodeNodes(t *testing.T, data []json.RawMessage) []nodeDoc {
	t.Helper()
	out := make([]nodeDoc, len(data))
	for i, d := range data {
		if got := objectKeys(t, d); !reflect.DeepEqual(got, []string{"geometry", "properties", "type"}) {
			t.Fatalf("node keys %v, want a GeoJSON Feature's", got)
		}
		var props struct {
			Properties json.RawMessage `json:"properties"`
		}
		_ = json.Unmarshal(d, &props)
		if got := objectKeys(t, props.Properties); !reflect.DeepEqual(got, []string{"address", "id", "info", "network", "sensors"}) {
			t.Fatalf("node properties %v, want address, id, info, network, sensors", got)
		}
		if err := json.Unmarshal(d, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func nodeIDsOf(docs []nodeDoc) []string {
	out := []string{}
	for _, d := range docs {
		out = append(out, d.Properties.ID)
	}
	sort.Strings(out)
	return out
}

// TestMetadata checks the shapes of the metadata endpoints against the
// demo network they describe.
func TestMetadata(t *testing.T) {
	f := startFixture(t)
	api := f.svc.URL + "/v1/api/sensor-networks"
	demo := chstore.DemoNetwork(network)

	t.Run("networks", func(t *testing.T) {
		for _, u := range []string{api, api + "/", api + "/Array_Of_Things"} {
			data := getMetadata(t, u)
			if len(data) != 1 {
				t.Fatalf("GET %s: %d networks, want 1", u, len(data))
			}
			if got := objectKeys(t, data[0]); !reflect.DeepEqual(got, []string{"features", "info", "name", "nodes", "sensors"}) {
				t.Fatalf("GET %s: network keys %v", u, got)
			}
			var n struct {
				Name                     string
				Features, Nodes, Sensors []string
				Info                     map[string]any
			}
			_ = json.Unmarshal(data[0], &n)
			if n.Name != network || len(n.Nodes) != chstore.DemoNodes || n.Info["description"] == nil ||
				!reflect.DeepEqual(n.Features, []string{"atmospheric_pressure", "light_intensity", "magnetic_field", "relative_humidity", "temperature"}) ||
				!reflect.DeepEqual(n.Sensors, []string{"bmp180", "hmc5883l", "htu21d", "tmp112", "tsl250rd"}) {
				t.Errorf("GET %s: got %+v", u, n)
			}
		}
	})

	t.Run("nodes", func(t *testing.T) {
		nodes := decodeNodes(t, getMetadata(t, api+"/array_of_things/nodes"))
		if len(nodes) != chstore.DemoNodes {
			t.Fatalf("got %d nodes, want %d", len(nodes), chstore.DemoNodes)
		}
		for i, x := range nodes {
			want := demo.Nodes[i]
			if x.Type != "Feature" || x.Geometry.Type != "Point" || !reflect.DeepEqual(x.Geometry.Coordinates, []float64{want.Lon, want.Lat}) ||
				x.Properties.ID != want.ID || x.Properties.Network != network || x.Properties.Address != want.Address ||
				len(x.Properties.Sensors) != 5 || x.Properties.Info == nil {
				t.Fatalf("node %d: got %+v, want %+v", i, x, want)
			}
		}
		one := decodeNodes(t, getMetadata(t, api+"/array_of_things/nodes/001E0610B02A"))
		if len(one) != 1 || !reflect.DeepEqual(one[0], nodes[0x2a]) {
			t.Errorf("one node: got %+v, want %+v", one, nodes[0x2a])
		}
	})

	t.Run("nodes within a geom", func(t *testing.T) {
		n42 := demo.Nodes[42]
		n0, n11 := demo.Nodes[0], demo.Nodes[11]
		for _, tt := range []struct {
			name, geom string
			want       []string
		}{
			{"a polygon", fixtureGeom(t, "southwest_3x3.geojson"), southwest3x3},
			{"a polygon with a hole", fixtureGeom(t, "southwest_3x3_hole.geojson"), southwestRim},
			{"a feature collection", fixtureGeom(t, "two_corners.geojson"), twoCorners},
			{"a point on a node", fmt.Sprintf(`{"type":"Point","coordinates":[%v,%v]}`, n42.Lon, n42.Lat), nodeIDs(42)},
			{"a point 50 m from a node", fmt.Sprintf(`{"type":"Point","coordinates":[%v,%v]}`, n42.Lon, n42.Lat+0.00045), nodeIDs(42)},
			{"a line between two nodes", fmt.Sprintf(`{"type":"LineString","coordinates":[[%v,%v],[%v,%v]]}`, n0.Lon, n0.Lat, n11.Lon, n11.Lat), nodeIDs(0, 11)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got := nodeIDsOf(decodeNodes(t, getMetadata(t, api+"/array_of_things/nodes?geom="+url.QueryEscape(tt.geom))))
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
		// A point 200 m from the nearest node selects nothing: a 400 that says so.
		far := fmt.Sprintf(`{"type":"Point","coordinates":[%v,%v]}`, n42.Lon, n42.Lat+0.0018)
		wantPlainError(t, api+"/array_of_things/nodes?geom="+url.QueryEscape(far), "No features found within "+far+"!")
	})

	t.Run("sensors", func(t *testing.T) {
		data := getMetadata(t, api+"/array_of_things/sensors")
		if len(data) != 5 {
			t.Fatalf("got %d sensors, want 5", len(data))
		}
		for i, d := range data {
			if got := objectKeys(t, d); !reflect.DeepEqual(got, []string{"info", "name", "properties"}) {
				t.Fatalf("sensor keys %v", got)
			}
			var s struct {
				Name       string
				Properties []string
				Info       map[string]any
			}
			_ = json.Unmarshal(d, &s)
			if want := demo.Sensors[i]; s.Name != want.Name || !reflect.DeepEqual(s.Properties, want.Properties) || s.Info == nil {
				t.Errorf("sensor %d: got %+v, want %+v", i, s, want)
			}
		}
		one := getMetadata(t, api+"/array_of_things/sensors/HMC5883L")
		if len(one) != 1 || string(one[0]) != `{"name":"hmc5883l","properties":["magnetic_field.x","magnetic_field.y","magnetic_field.z"],"info":{}}` {
			t.Errorf("one sensor: got %s", one)
		}
	})

	t.Run("features", func(t *testing.T) {
		data := getMetadata(t, api+"/array_of_things/features")
		if len(data) != 5 {
			t.Fatalf("got %d features, want 5", len(data))
		}
		for i, d := range data {
			if got := objectKeys(t, d); !reflect.DeepEqual(got, []string{"name", "properties"}) {
				t.Fatalf("feature keys %v", got)
			}
			var props struct{ Properties []json.RawMessage }
			_ = json.Unmarshal(d, &props)
			for _, p := range props.Properties {
				if got := objectKeys(t, p); !reflect.DeepEqual(got, []string{"common_name", "name", "type", "unit"}) {
					t.Fatalf("feature %d: property keys %v", i, got)
				}
				// The explorer drops a property without a common name.
				var pr struct {
					CommonName string `json:"common_name"`
				}
				if _ = json.Unmarshal(p, &pr); pr.CommonName == "" {
					t.Errorf("feature %d: property %s has no common name", i, p)
				}
			}
		}
		for _, name := range []string{"Magnetic_Field", "magnetic_field.x"} {
			one := getMetadata(t, api+"/array_of_things/features/"+name)
			want := `{"name":"magnetic_field","properties":[{"name":"x","type":"float","unit":"gauss","common_name":"Magnetic field X"},` +
				`{"name":"y","type":"float","unit":"gauss","common_name":"Magnetic field Y"},{"name":"z","type":"float","unit":"gauss","common_name":"Magnetic field Z"}]}`
			if len(one) != 1 || string(one[0]) != want {
				t.Errorf("feature %s: got %s, want %s", name, one, want)
			}
		}
	})
}

// TestMetadataErrors checks that unknown names and unknown parameters are
// 400s in Plenario's error shape, keyed and worded as its validator did.
func TestMetadataErrors(t *testing.T) {
	f := startFixture(t)
	api := f.svc.URL + "/v1/api/sensor-networks"
	tests := []struct {
		name string
		path string
		want map[string]string
	}{
		{"an unknown network", "/nowhere", map[string]string{"network": "Invalid network name: nowhere"}},
		{"the nodes of an unknown network", "/nowhere/nodes", map[string]string{"network": "Invalid network name: nowhere"}},
		{"a node of an unknown network", "/nowhere/nodes/001e0610b000", map[string]string{"network": "Invalid network name: nowhere"}},
		{"the sensors of an unknown network", "/nowhere/sensors", map[string]string{"network": "Invalid network name: nowhere"}},
		{"a sensor of an unknown network", "/nowhere/sensors/tmp112", map[string]string{"network": "Invalid network name: nowhere"}},
		{"the features of an unknown network", "/nowhere/features", map[string]string{"network": "Invalid network name: nowhere"}},
		{"a feature of an unknown network", "/nowhere/features/temperature", map[string]string{"network": "Invalid network name: nowhere"}},
		{"an unknown node", "/array_of_things/nodes/001e0610b999", map[string]string{"nodes": "Invalid node ID: 001e0610b999"}},
		{"an unknown sensor", "/array_of_things/sensors/tmp999", map[string]string{"sensors": "Invalid sensor name: tmp999"}},
		{"an unknown feature", "/array_of_things/features/humidity", map[string]string{"features": "Invalid feature of interest name: humidity"}},
		{"an unknown property", "/array_of_things/features/temperature.kelvin", map[string]string{"features": "Invalid feature of interest name: temperature.kelvin"}},
		{"an unknown node and a parameter", "/array_of_things/nodes/nope?x=1", map[string]string{"nodes": "Invalid node ID: nope", "x": "Not a valid filter"}},
		// (nodes on /nodes, network anywhere, and any argument of the
		// networks are not read: below)
		{"a sensor list on the nodes", "/array_of_things/nodes?sensors=tmp112", map[string]string{"sensors": "Not a valid filter"}},
		{"a bad geom on the nodes", "/array_of_things/nodes?geom=%7B%7D", map[string]string{"geom": "Could not parse geojson"}},
		{"a parameter on a node", "/array_of_things/nodes/001e0610b000?limit=1", map[string]string{"limit": "Not a valid filter"}},
		{"a parameter on the sensors", "/array_of_things/sensors?limit=1", map[string]string{"limit": "Not a valid filter"}},
		{"a parameter on a sensor", "/array_of_things/sensors/tmp112?x=1", map[string]string{"x": "Not a valid filter"}},
		{"a parameter on the features", "/array_of_things/features?feature=x", map[string]string{"feature": "Not a valid filter"}},
		{"a parameter on a feature", "/array_of_things/features/temperature?a=1&b=2", map[string]string{"a": "Not a valid filter", "b": "Not a valid filter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, api+tt.path, http.StatusBadRequest, tt.want)
		})
	}
	// What Plenario's views did not read: any argument of the networks
	// (get_network_metadata validated only its path), and network and the
	// view's own list, which the path's values replaced.
	for path, same := range map[string]string{"?name=x&_=1": "", "/array_of_things?geom=x": "/array_of_things",
		"/array_of_things/nodes?nodes=001e0610b000&network=x": "/array_of_things/nodes",
		"/array_of_things/sensors/tmp112?sensors=x":           "/array_of_things/sensors/tmp112"} {
		var got, want map[string]any
		getJSON(t, api+path, &got)
		getJSON(t, api+same, &want)
		if !reflect.DeepEqual(got["data"], want["data"]) {
			t.Errorf("%s: data %v, want that of %q: %v", path, got["data"], same, want["data"])
		}
	}
}

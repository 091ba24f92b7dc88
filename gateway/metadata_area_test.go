package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// wantPlainError fetches u and checks that it is Plenario's plain-string
// 400: {"meta":{"query":{...}},"error":"<msg>"}, the message exactly.
func wantPlainError(t *testing.T, u, msg string) {
	t.Helper()
	code, body := get(t, u)
	var e struct {
		Meta  map[string]map[string]any `json:"meta"`
		Error *string                   `json:"error"`
	}
	if err := json.Unmarshal(body, &e); code != http.StatusBadRequest || err != nil || e.Error == nil || e.Meta["query"] == nil {
		t.Fatalf("GET %.300s: got %d %.500s, want a 400 with meta.query and a string error", u, code, body)
	}
	if *e.Error != msg {
		t.Errorf("GET %.300s: error %q, want %q", u, *e.Error, msg)
	}
}

// mixedNetwork has nodes that carry different sensors, so that what a geom
// selects of the sensors and features shows: a carries tmp112; b carries
// hmc5883l and htu21d; c carries nothing; no node carries tsl250rd.
func mixedNetwork() *schema.Network {
	return &schema.Network{Name: "mixed", Info: map[string]any{},
		Nodes: []schema.Node{
			{ID: "a", Network: "mixed", Lon: -87.60, Lat: 41.80, Address: "A St", Sensors: []string{"tmp112"}},
			{ID: "b", Network: "mixed", Lon: -87.70, Lat: 41.90, Address: "B St", Sensors: []string{"hmc5883l", "htu21d"}},
			{ID: "c", Network: "mixed", Lon: -87.80, Lat: 42.00, Address: "C St", Sensors: []string{}},
		},
		Sensors: []schema.Sensor{
			{Name: "hmc5883l", Properties: []string{"magnetic_field.x", "magnetic_field.y", "magnetic_field.z"}},
			{Name: "htu21d", Properties: []string{"relative_humidity.humidity", "temperature.temperature"}},
			{Name: "tmp112", Properties: []string{"temperature.temperature"}},
			{Name: "tsl250rd", Properties: []string{"light_intensity.intensity"}},
		},
		// No stored common names: the API gives each property one.
		Features: []schema.Feature{
			{Name: "light_intensity", Properties: []schema.Property{{Name: "intensity", Type: "float", Unit: "lux"}}},
			{Name: "magnetic_field", Properties: []schema.Property{{Name: "x", Type: "float", Unit: "gauss"},
				{Name: "y", Type: "float", Unit: "gauss"}, {Name: "z", Type: "float", Unit: "gauss"}}},
			{Name: "relative_humidity", Properties: []schema.Property{{Name: "humidity", Type: "float", Unit: "%RH"}}},
			{Name: "temperature", Properties: []schema.Property{{Name: "temperature", Type: "float", Unit: "celsius"}}},
		},
	}
}

// names returns the sorted "name" (or properties.id, for nodes) of each
// metadata record.
func names(t *testing.T, data []json.RawMessage) []string {
	t.Helper()
	out := []string{}
	for _, d := range data {
		var r struct {
			Name       string
			Properties json.RawMessage
		}
		if err := json.Unmarshal(d, &r); err != nil {
			t.Fatal(err)
		}
		if r.Name == "" {
			var p struct{ ID string }
			_ = json.Unmarshal(r.Properties, &p)
			r.Name = p.ID
		}
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

// TestMetadataArea: geom filters the nodes, the sensors on them and the
// features those sensors observe, on the lists and on the single routes;
// an area holding nothing is Plenario's plain-string 400.
func TestMetadataArea(t *testing.T) {
	f := startFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.svc.Store.SaveNetwork(ctx, mixedNetwork()); err != nil {
		t.Fatal(err)
	}
	api := f.svc.URL + "/v1/api/sensor-networks/mixed"
	point := func(lon, lat float64) string { return fmt.Sprintf(`{"type":"Point","coordinates":[%v,%v]}`, lon, lat) }
	onA, onB, onC, far := point(-87.60, 41.80), point(-87.70, 41.90), point(-87.80, 42.00), point(-87.65, 41.85)
	aAndB := `{"type":"Polygon","coordinates":[[[-87.75,41.75],[-87.55,41.75],[-87.55,41.95],[-87.75,41.95],[-87.75,41.75]]]}`
	in := func(g string) string { return "?geom=" + url.QueryEscape(g) }

	lists := []struct {
		name, geom               string
		nodes, sensors, features []string
	}{
		{"no geom", "", []string{"a", "b", "c"}, []string{"hmc5883l", "htu21d", "tmp112", "tsl250rd"},
			[]string{"light_intensity", "magnetic_field", "relative_humidity", "temperature"}},
		{"a point on a", onA, []string{"a"}, []string{"tmp112"}, []string{"temperature"}},
		{"a point on b", onB, []string{"b"}, []string{"hmc5883l", "htu21d"}, []string{"magnetic_field", "relative_humidity", "temperature"}},
		{"a polygon around a and b", aAndB, []string{"a", "b"}, []string{"hmc5883l", "htu21d", "tmp112"},
			[]string{"magnetic_field", "relative_humidity", "temperature"}},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			q := ""
			if tt.geom != "" {
				q = in(tt.geom)
			}
			for _, c := range []struct {
				what string
				want []string
			}{{"nodes", tt.nodes}, {"sensors", tt.sensors}, {"features", tt.features}} {
				if got := names(t, getMetadata(t, api+"/"+c.what+q)); !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s: got %v, want %v", c.what, got, c.want)
				}
			}
		})
	}

	t.Run("an area holding nothing", func(t *testing.T) {
		wantPlainError(t, api+"/nodes"+in(far), "No features found within "+far+"!")
		wantPlainError(t, api+"/sensors"+in(far), "No sensors found within "+far+"!")
		wantPlainError(t, api+"/features"+in(far), "No features found within "+far+"!")
		// A node without sensors: the node is there, its sensors and features are not.
		if got := names(t, getMetadata(t, api+"/nodes"+in(onC))); !reflect.DeepEqual(got, []string{"c"}) {
			t.Errorf("nodes on c: got %v", got)
		}
		wantPlainError(t, api+"/sensors"+in(onC), "No sensors found within "+onC+"!")
		wantPlainError(t, api+"/features"+in(onC), "No features found within "+onC+"!")
	})

	t.Run("single routes", func(t *testing.T) {
		for _, c := range []struct{ path, geom, want string }{
			{"/nodes/A", onA, "a"},
			{"/sensors/tmp112", onA, "tmp112"},
			{"/features/temperature", onB, "temperature"},
			{"/features/magnetic_field.x", onB, "magnetic_field"},
		} {
			if got := names(t, getMetadata(t, api+c.path+in(c.geom))); !reflect.DeepEqual(got, []string{c.want}) {
				t.Errorf("%s within %s: got %v, want %s", c.path, c.geom, got, c.want)
			}
		}
		wantPlainError(t, api+"/nodes/b"+in(onA), "No features found within "+onA+"!")
		wantPlainError(t, api+"/sensors/htu21d"+in(onA), "No sensors found within "+onA+"!")
		wantPlainError(t, api+"/sensors/tsl250rd"+in(aAndB), "No sensors found within "+aAndB+"!")
		wantPlainError(t, api+"/features/light_intensity"+in(onB), "No features found within "+onB+"!")
		// An unknown name is told before the area.
		wantError(t, api+"/sensors/nope"+in(far), http.StatusBadRequest, map[string]string{"sensors": "Invalid sensor name: nope"})
	})

	t.Run("common names made where none is stored", func(t *testing.T) {
		one := getMetadata(t, api+"/features/magnetic_field")
		want := `{"name":"magnetic_field","properties":[{"name":"x","type":"float","unit":"gauss","common_name":"Magnetic field X"},` +
			`{"name":"y","type":"float","unit":"gauss","common_name":"Magnetic field Y"},{"name":"z","type":"float","unit":"gauss","common_name":"Magnetic field Z"}]}`
		if len(one) != 1 || string(one[0]) != want {
			t.Errorf("got %s, want %s", one, want)
		}
		one = getMetadata(t, api+"/features/relative_humidity")
		if want := `{"name":"relative_humidity","properties":[{"name":"humidity","type":"float","unit":"%RH","common_name":"Relative humidity"}]}`; len(one) != 1 || string(one[0]) != want {
			t.Errorf("got %s, want %s", one, want)
		}
	})
}

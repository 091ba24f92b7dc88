package schema_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

func TestNetworkLookups(t *testing.T) {
	n := MustNetwork(t)
	tests := []struct {
		name   string
		lookup func(string) (string, bool)
		input  string
		want   string
		wantOK bool
	}{
		{name: "node", lookup: func(s string) (string, bool) { x, ok := n.Node(s); return x.ID, ok }, input: "00a", want: "00A", wantOK: true},
		{name: "no node", lookup: func(s string) (string, bool) { x, ok := n.Node(s); return x.ID, ok }, input: "00D"},
		{name: "sensor", lookup: func(s string) (string, bool) { x, ok := n.Sensor(s); return x.Name, ok }, input: "TMP112", want: "tmp112", wantOK: true},
		{name: "no sensor", lookup: func(s string) (string, bool) { x, ok := n.Sensor(s); return x.Name, ok }, input: "tmp11"},
		{name: "feature", lookup: func(s string) (string, bool) { x, ok := n.Feature(s); return x.Name, ok }, input: "Magnetic_Field", want: "magnetic_field", wantOK: true},
		{name: "no feature", lookup: func(s string) (string, bool) { x, ok := n.Feature(s); return x.Name, ok }, input: "magnetic"},
		{name: "property", lookup: func(s string) (string, bool) {
			f, _ := n.Feature("magnetic_field")
			p, ok := f.Property(s)
			return p.Name, ok
		}, input: "X", want: "x", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.lookup(tt.input)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %q %v, want %q %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestNetworkSort(t *testing.T) {
	n := MustNetwork(t)
	want := MustNetwork(t)
	n.Nodes[0], n.Nodes[5] = n.Nodes[5], n.Nodes[0]
	n.Sensors[0], n.Sensors[2] = n.Sensors[2], n.Sensors[0]
	n.Features[1], n.Features[2] = n.Features[2], n.Features[1]
	n.Sort()
	if !reflect.DeepEqual(n, want) {
		t.Errorf("got %+v, want %+v", n, want)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMetadataDocs(t *testing.T) {
	n := MustNetwork(t)
	tests := []struct {
		name  string
		input any
		want  string
	}{
		{name: "network", input: n.Doc(),
			want: `{"name":"array_of_things_chicago","features":["magnetic_field","relative_humidity","temperature"],"nodes":["000","001","002","00A","00B","00C"],"sensors":["hmc5883l","htu21d","tmp112"],"info":{"city":"Chicago"}}`},
		{name: "empty network", input: (&schema.Network{Name: "empty"}).Doc(),
			want: `{"name":"empty","features":[],"nodes":[],"sensors":[],"info":{}}`},
		{name: "node", input: n.Nodes[0].Doc(),
			want: `{"type":"Feature","geometry":{"type":"Point","coordinates":[-87.63,41.88]},"properties":{"id":"000","network":"array_of_things_chicago","address":"State St \u0026 Madison St","sensors":["tmp112","htu21d"],"info":{}}}`},
		{name: "bare node", input: schema.Node{ID: "x"}.Doc(),
			want: `{"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]},"properties":{"id":"x","network":"","address":"","sensors":[],"info":{}}}`},
		{name: "sensor", input: n.Sensors[2].Doc(),
			want: `{"name":"tmp112","properties":["temperature.temperature"],"info":{}}`},
		{name: "bare sensor", input: schema.Sensor{Name: "s"}.Doc(),
			want: `{"name":"s","properties":[],"info":{}}`},
		{name: "feature", input: n.Features[1].Doc(),
			want: `{"name":"relative_humidity","properties":[{"name":"humidity","type":"float","unit":"percent","common_name":"Relative humidity"}]}`},
		{name: "feature with a stored common name", input: schema.Feature{Name: "temperature",
			Properties: []schema.Property{{Name: "temperature", Type: "float", Unit: "celsius", CommonName: "Air temperature"}}}.Doc(),
			want: `{"name":"temperature","properties":[{"name":"temperature","type":"float","unit":"celsius","common_name":"Air temperature"}]}`},
		{name: "bare feature", input: schema.Feature{Name: "f"}.Doc(),
			want: `{"name":"f","properties":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jsonString(t, tt.input); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDefaultCommonName(t *testing.T) {
	n := MustNetwork(t)
	mag, _ := n.Feature("magnetic_field")
	tests := []struct {
		name    string
		feature schema.Feature
		prop    string
		want    string
	}{
		{"one property named as its feature", n.Features[2], "temperature", "Temperature"},
		{"one property named otherwise", n.Features[1], "humidity", "Relative humidity"},
		{"one of several, a letter", mag, "x", "Magnetic field X"},
		{"one of several, a word", schema.Feature{Name: "gas", Properties: []schema.Property{{Name: "co_ppm"}, {Name: "no2"}}}, "co_ppm", "Gas co ppm"},
		{"no name", schema.Feature{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schema.DefaultCommonName(tt.feature, tt.prop); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSensorsAndFeaturesOfNodes: what a geom selects of the sensors and
// features follows the nodes it holds.
func TestSensorsAndFeaturesOfNodes(t *testing.T) {
	n := MustNetwork(t)
	names := func(v any) []string {
		out := []string{}
		switch v := v.(type) {
		case []schema.Sensor:
			for _, s := range v {
				out = append(out, s.Name)
			}
		case []schema.Feature:
			for _, f := range v {
				out = append(out, f.Name)
			}
		}
		return out
	}
	tests := []struct {
		nodes             []string
		sensors, features []string
	}{
		{[]string{"000"}, []string{"htu21d", "tmp112"}, []string{"relative_humidity", "temperature"}},
		{[]string{"00c", "00A"}, []string{"hmc5883l", "tmp112"}, []string{"magnetic_field", "temperature"}},
		{[]string{"002"}, []string{"htu21d"}, []string{"relative_humidity", "temperature"}},
		{nil, []string{}, []string{}},
		{[]string{"nope"}, []string{}, []string{}},
	}
	for _, tt := range tests {
		s := n.SensorsOn(tt.nodes)
		if got := names(s); !reflect.DeepEqual(got, tt.sensors) {
			t.Errorf("sensors on %v: got %v, want %v", tt.nodes, got, tt.sensors)
		}
		if got := names(n.FeaturesOf(s)); !reflect.DeepEqual(got, tt.features) {
			t.Errorf("features of %v: got %v, want %v", tt.nodes, got, tt.features)
		}
	}
}

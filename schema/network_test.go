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
		{name: "feature", input: n.Features[1],
			want: `{"name":"relative_humidity","properties":[{"name":"humidity","type":"float","unit":"percent"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jsonString(t, tt.input); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

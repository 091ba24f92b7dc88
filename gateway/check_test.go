package gateway_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/plenario-next/exportd/chstore"
)

// TestCheck: the names given, sorted into those the network has and those
// it has not, in the ticket era's shape.
func TestCheck(t *testing.T) {
	f := startFixture(t)
	node := nodeIDs(5)[0]
	var got map[string]any
	getJSON(t, f.url+"/check?nodes="+strings.ToUpper(node)+",nope&features=temperature,magnetic_field.x,magnetic_field.w,bogus&sensors=TMP112,,zzz", &got)
	want := map[string]any{"meta": map[string]any{}, "data": []any{
		map[string]any{"field": "nodes", "valid": []any{strings.ToUpper(node)}, "invalid": []any{"nope"}},
		map[string]any{"field": "features", "valid": []any{"temperature", "magnetic_field.x"}, "invalid": []any{"magnetic_field.w", "bogus"}},
		map[string]any{"field": "sensors", "valid": []any{"TMP112"}, "invalid": []any{"zzz"}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	getJSON(t, f.url+"/check", &got)
	if b, _ := json.Marshal(got); string(b) != `{"data":[{"field":"nodes","invalid":[],"valid":[]},{"field":"features","invalid":[],"valid":[]},{"field":"sensors","invalid":[],"valid":[]}],"meta":{}}` {
		t.Fatalf("no names: got %s", b)
	}
	// The later API's singular names are read; another argument is not,
	// as neither of Plenario's /check read one.
	got = nil
	getJSON(t, f.url+"/check?node="+node+"&sensor=zzz&_=1", &got)
	if b, _ := json.Marshal(got); string(b) != `{"data":[{"field":"nodes","invalid":[],"valid":["`+node+`"]},{"field":"features","invalid":[],"valid":[]},{"field":"sensors","invalid":["zzz"],"valid":[]}],"meta":{}}` {
		t.Fatalf("node and sensor: got %s", b)
	}
	wantError(t, f.svc.URL+"/v1/api/sensor-networks/nowhere/check?nodes="+node,
		http.StatusBadRequest, map[string]string{"network": "Invalid network name: nowhere"})
}

// TestMap: every node, the sensors it carries, and what each reports under
// a common name, no envelope.
func TestMap(t *testing.T) {
	f := startFixture(t)
	var got map[string]map[string]map[string]string
	getJSON(t, f.url+"/map", &got)
	demo := chstore.DemoNetwork(network)
	if len(got) != len(demo.Nodes) {
		t.Fatalf("got %d nodes, want %d", len(got), len(demo.Nodes))
	}
	for _, x := range demo.Nodes {
		if !reflect.DeepEqual(keys(got[x.ID]), x.Sensors) {
			t.Fatalf("node %s: sensors %v, want %v", x.ID, keys(got[x.ID]), x.Sensors)
		}
		for _, s := range demo.Sensors {
			var fps []string
			for name, fp := range got[x.ID][s.Name] {
				if name == "" {
					t.Fatalf("node %s sensor %s: %s without a common name", x.ID, s.Name, fp)
				}
				fps = append(fps, fp)
			}
			if !sameSet(fps, s.Properties) {
				t.Fatalf("node %s sensor %s: %v, want %v", x.ID, s.Name, fps, s.Properties)
			}
		}
	}
	// The common names are the ones /features shows.
	var features struct {
		Data []struct {
			Name       string `json:"name"`
			Properties []struct {
				Name       string `json:"name"`
				CommonName string `json:"common_name"`
			} `json:"properties"`
		} `json:"data"`
	}
	getJSON(t, f.url+"/features", &features)
	named := 0
	for _, ft := range features.Data {
		for _, p := range ft.Properties {
			for _, s := range demo.Sensors {
				if fp, ok := got[demo.Nodes[0].ID][s.Name][p.CommonName]; ok && fp == ft.Name+"."+p.Name {
					named++
				}
			}
		}
	}
	if want := 9; named != want { // the demo sensors' feature.property pairs
		t.Fatalf("%d of the sensors' properties are keyed by /features' common names, want %d: %v", named, want, got[demo.Nodes[0].ID])
	}
	wantPlainError(t, f.svc.URL+"/v1/api/sensor-networks/nowhere/map", "Invalid network name: nowhere") // as Plenario's get_network_map
	var again map[string]map[string]map[string]string
	getJSON(t, f.url+"/map?nodes=x", &again) // get_network_map read no argument
	if !reflect.DeepEqual(again, got) {
		t.Fatalf("/map?nodes=x is not /map")
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

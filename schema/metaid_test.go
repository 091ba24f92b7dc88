package schema_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/plenario-next/exportd/schema"
)

func TestNodeMetaID(t *testing.T) {
	node := func() schema.Node {
		return schema.Node{ID: "001e0610b000", Network: "aot", Lon: -87.6, Lat: 41.8, Address: "State St",
			Sensors: []string{"tmp112", "htu21d"}, Info: map[string]any{"vsn": "004", "description": "AoT Chicago (S)"}}
	}
	base := schema.NodeMetaID(node())
	if base == 0 {
		t.Fatal("got meta_id 0, which stands for no metadata")
	}
	same := node()
	same.Info = map[string]any{"description": "AoT Chicago (S)", "vsn": "004"} // another map, same content
	if got := schema.NodeMetaID(same); got != base {
		t.Errorf("got %d for the same metadata, want %d", got, base)
	}
	for name, change := range map[string]func(*schema.Node){
		"moved":           func(x *schema.Node) { x.Lat += 0.001 },
		"another sensor":  func(x *schema.Node) { x.Sensors = append(x.Sensors, "bmp180") },
		"another address": func(x *schema.Node) { x.Address = "Lake St" },
		"info changed":    func(x *schema.Node) { x.Info["vsn"] = "005" },
		"another node":    func(x *schema.Node) { x.ID = "001e0610b001" },
	} {
		x := node()
		change(&x)
		if got := schema.NodeMetaID(x); got == base {
			t.Errorf("%s: got the same meta_id %d, want another", name, got)
		}
	}
	n := &schema.Network{Name: "aot", Nodes: []schema.Node{node(), {ID: "b", Network: "aot"}}}
	if ids := n.MetaIDs(nil); len(ids) != 2 || ids["001e0610b000"] != base {
		t.Errorf("got %v for all nodes, want 2 with %d", ids, base)
	}
	if ids := n.MetaIDs([]string{"B", "unknown"}); len(ids) != 1 || ids["b"] == 0 {
		t.Errorf("got %v for nodes B and unknown, want b's only", ids)
	}
}

// Both JSON renderers put the node's meta_id in each observation, in
// Plenario's order of keys; a node they do not know gets 0.
func TestJSONRenderersCarryMetaID(t *testing.T) {
	ids := schema.MetaIDs{"a": 4242}
	rows := []schema.Row{{Node: "a", TS: ts0, Sensor: "s", Feature: "f", Property: "p", Value: 1},
		{Node: "b", TS: ts0, Sensor: "s", Feature: "f", Property: "p", Value: 2}}
	want := `{"node":"a","meta_id":4242,"datetime":"2017-01-01T00:00:00","sensor":"s","feature":"f","results":{"p":1}}` + "\n" +
		`{"node":"b","meta_id":0,"datetime":"2017-01-01T00:00:00","sensor":"s","feature":"f","results":{"p":2}}` + "\n"
	var csvRows []byte
	var ce schema.CSVEncoder
	for i := range rows {
		csvRows = ce.AppendRow(csvRows, &rows[i])
	}
	var out bytes.Buffer
	w := schema.NewJSONWriter(&out, true)
	w.MetaIDs = ids
	if _, err := w.Write(csvRows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil || out.String() != want {
		t.Errorf("JSONWriter: got %q (%v), want %q", out.String(), err, want)
	}
	e := schema.JSONEncoder{MetaIDs: ids}
	var frag []byte
	for i := range rows {
		frag = e.AppendRow(frag, &rows[i])
	}
	out.Reset()
	c := schema.NewNDJSONOfJSON(&out)
	if _, err := c.Write(e.Close(frag)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil || out.String() != want {
		t.Errorf("JSONEncoder: got %q (%v), want %q", out.String(), err, want)
	}
	var o schema.Observation
	if err := json.Unmarshal([]byte(want[:bytes.IndexByte([]byte(want), '\n')]), &o); err != nil || o.MetaID != 4242 {
		t.Errorf("got %+v (%v), want meta_id 4242", o, err)
	}
}

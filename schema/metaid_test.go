package schema_test

import (
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

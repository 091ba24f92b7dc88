package schema

import (
	"sort"
	"strings"
)

// Network is one sensor network's metadata: what can be asked of it. Every
// identifier in a query is checked against it before it reaches ClickHouse.
type Network struct {
	Name     string         `json:"name"`
	Info     map[string]any `json:"info"`
	Nodes    []Node         `json:"-"`
	Sensors  []Sensor       `json:"-"`
	Features []Feature      `json:"-"`
}

// Node is a device at a place. Sensors lists the sensors it carries.
type Node struct {
	ID      string         `json:"id"`
	Network string         `json:"network"`
	Lon     float64        `json:"-"`
	Lat     float64        `json:"-"`
	Address string         `json:"address"`
	Sensors []string       `json:"sensors"`
	Info    map[string]any `json:"info"`
}

// Sensor is a kind of instrument; Properties names what it observes as
// "feature.property".
type Sensor struct {
	Name       string         `json:"name"`
	Properties []string       `json:"properties"`
	Info       map[string]any `json:"info"`
}

// Feature is a feature of interest (temperature, magnetic_field) with the
// properties a reading of it has (x, y, z).
type Feature struct {
	Name       string     `json:"name"`
	Properties []Property `json:"properties"`
}

// Property is one measured quantity of a feature.
type Property struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Unit string `json:"unit"`
}

// NetworkDoc is the JSON shape of a network in the metadata endpoints.
type NetworkDoc struct {
	Name     string         `json:"name"`
	Features []string       `json:"features"`
	Nodes    []string       `json:"nodes"`
	Sensors  []string       `json:"sensors"`
	Info     map[string]any `json:"info"`
}

// Doc returns the network's metadata document.
func (n *Network) Doc() NetworkDoc {
	d := NetworkDoc{Name: n.Name, Info: nonNil(n.Info), Features: []string{}, Nodes: []string{}, Sensors: []string{}}
	for _, f := range n.Features {
		d.Features = append(d.Features, f.Name)
	}
	for _, x := range n.Nodes {
		d.Nodes = append(d.Nodes, x.ID)
	}
	for _, s := range n.Sensors {
		d.Sensors = append(d.Sensors, s.Name)
	}
	return d
}

// NodeDoc is a node as a GeoJSON Feature.
type NodeDoc struct {
	Type       string `json:"type"`
	Geometry   Point  `json:"geometry"`
	Properties Node   `json:"properties"`
}

// Point is a GeoJSON Point.
type Point struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

// Doc returns the node as a GeoJSON Feature.
func (x Node) Doc() NodeDoc {
	x.Info = nonNil(x.Info)
	if x.Sensors == nil {
		x.Sensors = []string{}
	}
	return NodeDoc{Type: "Feature", Geometry: Point{Type: "Point", Coordinates: [2]float64{x.Lon, x.Lat}}, Properties: x}
}

// Doc returns the sensor's metadata document.
func (s Sensor) Doc() Sensor {
	s.Info = nonNil(s.Info)
	if s.Properties == nil {
		s.Properties = []string{}
	}
	return s
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// Node returns the node with id (case-insensitive).
func (n *Network) Node(id string) (Node, bool) {
	for _, x := range n.Nodes {
		if strings.EqualFold(x.ID, id) {
			return x, true
		}
	}
	return Node{}, false
}

// Sensor returns the sensor called name (case-insensitive).
func (n *Network) Sensor(name string) (Sensor, bool) {
	for _, s := range n.Sensors {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return Sensor{}, false
}

// Feature returns the feature called name (case-insensitive).
func (n *Network) Feature(name string) (Feature, bool) {
	for _, f := range n.Features {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return Feature{}, false
}

// Property returns the property called name (case-insensitive).
func (f Feature) Property(name string) (Property, bool) {
	for _, p := range f.Properties {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return Property{}, false
}

// Sort puts the network's lists in a stable order, by name.
func (n *Network) Sort() {
	sort.Slice(n.Nodes, func(i, j int) bool { return n.Nodes[i].ID < n.Nodes[j].ID })
	sort.Slice(n.Sensors, func(i, j int) bool { return n.Sensors[i].Name < n.Sensors[j].Name })
	sort.Slice(n.Features, func(i, j int) bool { return n.Features[i].Name < n.Features[j].Name })
}

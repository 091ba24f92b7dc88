package schema

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
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

// Property is one measured quantity of a feature. CommonName is its label
// for people ("Magnetic field X"): Plenario's explorer shows only the
// properties that have one.
type Property struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Unit       string `json:"unit"`
	CommonName string `json:"common_name"`
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

// Doc returns the feature's metadata document: every property has a
// common name, the stored one or one made from the names (DefaultCommonName).
func (f Feature) Doc() Feature {
	props := make([]Property, len(f.Properties))
	for i, p := range f.Properties {
		if p.CommonName == "" {
			p.CommonName = DefaultCommonName(f, p.Name)
		}
		props[i] = p
	}
	f.Properties = props
	return f
}

// DefaultCommonName labels a property that has no stored common name: the
// feature's name in words when it is the feature's only property
// ("Temperature"), else followed by the property's ("Magnetic field X").
func DefaultCommonName(f Feature, prop string) string {
	name := strings.ReplaceAll(f.Name, "_", " ")
	if len(f.Properties) > 1 {
		p := strings.ReplaceAll(prop, "_", " ")
		if utf8.RuneCountInString(p) == 1 {
			p = strings.ToUpper(p)
		}
		name += " " + p
	}
	if name == "" {
		return ""
	}
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToUpper(r)) + name[size:]
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

// SensorsOn returns the sensors the nodes carry, in the network's order:
// what a metadata request's geom selects of the sensors.
func (n *Network) SensorsOn(nodes []string) []Sensor {
	on := map[string]bool{}
	for _, id := range nodes {
		if x, ok := n.Node(id); ok {
			for _, s := range x.Sensors {
				on[strings.ToLower(s)] = true
			}
		}
	}
	out := []Sensor{}
	for _, s := range n.Sensors {
		if on[strings.ToLower(s.Name)] {
			out = append(out, s)
		}
	}
	return out
}

// FeaturesOf returns the features the sensors observe, in the network's
// order.
func (n *Network) FeaturesOf(sensors []Sensor) []Feature {
	seen := map[string]bool{}
	for _, s := range sensors {
		for _, fp := range s.Properties {
			f, _, _ := strings.Cut(fp, ".")
			seen[strings.ToLower(f)] = true
		}
	}
	out := []Feature{}
	for _, f := range n.Features {
		if seen[strings.ToLower(f.Name)] {
			out = append(out, f)
		}
	}
	return out
}

// UnknownNode records a node id the network lacks, keyed and worded as
// Plenario's validator did: a 400, not a 404, as its clients expect.
func (p Problems) UnknownNode(id string) { p.Add("nodes", msgBadNode+id) }

// UnknownSensor records a sensor name the network lacks, as UnknownNode.
func (p Problems) UnknownSensor(name string) { p.Add("sensors", msgBadSensor+name) }

// UnknownFeature records a feature (or feature.property) the network
// lacks, as UnknownNode.
func (p Problems) UnknownFeature(name string) { p.Add("features", msgBadFeature+name) }

// EmptyArea is the 400 for a geom that holds none of what a metadata
// request lists: Plenario's message, a plain string, with the geom as
// given. what is "features" (Plenario said so for nodes too) or "sensors".
func EmptyArea(what, geom string) error {
	return &Error{Code: Invalid, Message: "No " + what + " found within " + geom + "!"}
}

// Sort puts the network's lists in a stable order, by name.
func (n *Network) Sort() {
	sort.Slice(n.Nodes, func(i, j int) bool { return n.Nodes[i].ID < n.Nodes[j].ID })
	sort.Slice(n.Sensors, func(i, j int) bool { return n.Sensors[i].Name < n.Sensors[j].Name })
	sort.Slice(n.Features, func(i, j int) bool { return n.Features[i].Name < n.Features[j].Name })
}

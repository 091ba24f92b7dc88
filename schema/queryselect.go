package schema

import (
	"encoding/json"
	"strings"
)

// A query's selection: which features, sensors and nodes it reads, each
// name checked against the network's metadata and kept in the metadata's
// own spelling. A list not given selects the whole network (the All*
// flags of Query); geom narrows the nodes to those inside it.

// selectFeatures reads features (Download: a list, or all of them) or
// feature (Raw: exactly one); NodeList selects none.
func (q *Query) selectFeatures(p Problems, ep Endpoint, a queryArgs, n *Network) {
	switch ep {
	case Download:
		if v, ok := a.get("features"); ok {
			q.Features = parseFeatures(p, "features", v, n)
		} else {
			q.AllFeatures = true
			q.Features = n.allFeatures()
		}
	case Raw:
		v, ok := a.get("feature")
		switch items := splitList(v); {
		case !ok || len(items) == 0:
			p.Add("feature", "Missing data for required field: exactly one feature of interest.")
		case len(items) > 1:
			p.Add("feature", "Only one feature of interest may be queried at a time; use /download for several.")
		default:
			q.Features = parseFeatures(p, "feature", v, n)
		}
	}
}

// selectSensors reads sensors, or selects all of them.
func (q *Query) selectSensors(p Problems, a queryArgs, n *Network) {
	v, ok := a.get("sensors")
	if !ok {
		q.AllSensors = true
		q.Sensors = n.sensorNames()
		return
	}
	for _, s := range listOrProblem(p, "sensors", v) {
		if sen, ok := n.Sensor(s); ok {
			q.Sensors = appendUnique(q.Sensors, sen.Name)
		} else {
			p.Add("sensors", msgBadSensor+s)
		}
	}
}

// selectNodes reads nodes (NodeList takes none), or selects all of them,
// then keeps those inside geom. A geometry that holds none of them is a
// problem, unless the nodes given already are one, or on NodeList, whose
// caller words an empty area itself.
func (q *Query) selectNodes(p Problems, ep Endpoint, a queryArgs, n *Network) {
	nodesGiven := false
	if v, ok := a.get("nodes"); ok && ep != NodeList {
		nodesGiven = true
		for _, id := range listOrProblem(p, "nodes", v) {
			if x, ok := n.Node(id); ok {
				q.Nodes = appendUnique(q.Nodes, x.ID)
			} else {
				p.Add("nodes", msgBadNode+id)
			}
		}
	} else {
		q.Nodes = n.nodeIDs()
	}
	q.AllNodes = !nodesGiven
	v, ok := a.get("geom")
	if !ok {
		return
	}
	q.AllNodes = false
	g, err := ParseGeom(v)
	if err != nil {
		p["geom"] = append(p["geom"], msgBadGeom+v, "Could not parse geojson: "+err.Error())
		return
	}
	q.Geom = json.RawMessage(g.Canonical)
	var inside []string
	for _, id := range q.Nodes {
		if x, ok := n.Node(id); ok && g.Contains(x.Lon, x.Lat) {
			inside = append(inside, id)
		}
	}
	if len(inside) == 0 && len(p["nodes"]) == 0 && ep != NodeList {
		p.Add("geom", "No node of network "+n.Name+" lies within the geometry.")
	}
	q.Nodes = inside
}

func parseFeatures(p Problems, field, v string, n *Network) []FeatureSel {
	var out []FeatureSel
	for _, item := range listOrProblem(p, field, v) {
		name, prop, dotted := strings.Cut(item, ".")
		f, ok := n.Feature(name)
		if !ok {
			p.Add(field, msgBadFeature+item)
			continue
		}
		sel := FeatureSel{Feature: f.Name}
		if dotted {
			pr, ok := f.Property(prop)
			if !ok {
				p.Add(field, msgBadFeature+item)
				continue
			}
			sel.Property = pr.Name
		}
		out = appendFeature(out, sel)
	}
	return out
}

// appendFeature adds sel unless it is already covered: a whole feature
// covers its properties.
func appendFeature(out []FeatureSel, sel FeatureSel) []FeatureSel {
	for i, f := range out {
		if f.Feature != sel.Feature {
			continue
		}
		if f.Property == "" || f == sel {
			return out
		}
		if sel.Property == "" { // the whole feature replaces its properties
			out[i] = sel
			kept := out[:i+1]
			for _, g := range out[i+1:] {
				if g.Feature != sel.Feature {
					kept = append(kept, g)
				}
			}
			return kept
		}
	}
	return append(out, sel)
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// emptyListMsg is what an empty list gets: it names nothing, and a query
// that selects nothing must fail at submit, not later in the exporter.
var emptyListMsg = map[string]string{"features": msgBadFeature, "feature": msgBadFeature, "nodes": msgBadNode, "sensors": msgBadSensor}

func listOrProblem(p Problems, field, v string) []string {
	items := splitList(v)
	if len(items) > MaxListItems {
		p.Add(field, msgTooManyItems)
		return nil
	}
	if len(items) == 0 {
		p.Add(field, emptyListMsg[field])
	}
	return items
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (n *Network) nodeIDs() []string {
	ids := make([]string, len(n.Nodes))
	for i, x := range n.Nodes {
		ids[i] = x.ID
	}
	return ids
}

func (n *Network) sensorNames() []string {
	names := make([]string, len(n.Sensors))
	for i, x := range n.Sensors {
		names[i] = x.Name
	}
	return names
}

func (n *Network) allFeatures() []FeatureSel {
	fs := make([]FeatureSel, len(n.Features))
	for i, f := range n.Features {
		fs[i] = FeatureSel{Feature: f.Name}
	}
	return fs
}

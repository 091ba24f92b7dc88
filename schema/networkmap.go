package schema

import (
	"strings"
)

// NetworkMap is /map's answer: for each node, each sensor it carries, and
// what that sensor reports, {common name: "feature.property"}, the tree
// Plenario's later API served.
type NetworkMap map[string]map[string]map[string]string

// Map returns the network's tree of nodes, sensors and properties.
func (n *Network) Map() NetworkMap {
	out := NetworkMap{}
	for _, x := range n.Nodes {
		sensors := map[string]map[string]string{}
		for _, name := range x.Sensors {
			s, ok := n.Sensor(name)
			if !ok {
				continue
			}
			props := map[string]string{}
			for _, fp := range s.Properties {
				props[n.propertyCommonName(fp)] = fp
			}
			sensors[s.Name] = props
		}
		out[x.ID] = sensors
	}
	return out
}

// propertyCommonName is the common name of a "feature.property", the key
// Plenario's sensors gave each thing they report.
func (n *Network) propertyCommonName(fp string) string {
	fn, pn, _ := strings.Cut(fp, ".")
	f, ok := n.Feature(fn)
	if !ok {
		return fp
	}
	pr, ok := f.Property(pn)
	if !ok {
		return fp
	}
	if pr.CommonName != "" {
		return pr.CommonName // the stored one, as /features shows it
	}
	return DefaultCommonName(f, pr.Name)
}

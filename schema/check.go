package schema

import (
	"net/url"
	"strconv"
	"strings"
)

// CheckField is one element of /check's data: which of the names given
// for a parameter the network has, and which it has not.
type CheckField struct {
	Field   string   `json:"field"`
	Valid   []string `json:"valid"`
	Invalid []string `json:"invalid"`
}

// Check sorts the names in nodes, features and sensors (comma lists; node,
// feature and sensor too, as the later API's check read them) into those
// the network has and those it has not, as Plenario's /check did for its
// socket server: names as given, matched case-insensitively; a feature
// may be feature.property. Other arguments are not read, as neither of
// Plenario's /check read them; a list too long is an Invalid error.
func Check(args url.Values, n *Network) ([]CheckField, error) {
	a := params(args)
	p := Problems{}
	out := []CheckField{}
	for _, c := range []struct {
		field, alias string
		has          func(string) bool
	}{
		{"nodes", "node", func(v string) bool { _, ok := n.Node(v); return ok }},
		{"features", "feature", n.hasFeature},
		{"sensors", "sensor", func(v string) bool { _, ok := n.Sensor(v); return ok }},
	} {
		f := CheckField{Field: c.field, Valid: []string{}, Invalid: []string{}}
		alias, _ := a.get(c.alias)
		v, _ := a.get(c.field)
		items := append(splitList(alias), splitList(v)...)
		if len(items) > MaxListItems {
			p.Add(c.field, "Too many values: at most "+strconv.Itoa(MaxListItems)+".")
			items = nil
		}
		for _, item := range items {
			if c.has(item) {
				f.Valid = append(f.Valid, item)
			} else {
				f.Invalid = append(f.Invalid, item)
			}
		}
		out = append(out, f)
	}
	return out, p.Err()
}

// hasFeature reports whether v names a feature, or a property of one.
func (n *Network) hasFeature(v string) bool {
	name, prop, dotted := strings.Cut(v, ".")
	f, ok := n.Feature(name)
	if ok && dotted {
		_, ok = f.Property(prop)
	}
	return ok
}

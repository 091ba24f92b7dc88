package schema

import (
	"net/url"
	"sort"
	"strings"
	"time"
)

// Messages of the single-value endpoints (/aggregate, /nearest), as
// marshmallow 2.9 wrote them for Plenario.
const (
	MsgRequired     = "Missing data for required field."
	MsgInvalidValue = "Invalid value."
	MsgNotANumber   = "Not a valid number."
)

// params reads one request's arguments for the endpoints that validate
// them outside ParseQuery: a repeated argument counts once, joined by
// commas, as Plenario's list arguments were.
type params url.Values

// get returns the argument k and whether it was given with a value.
func (a params) get(k string) (string, bool) {
	v, ok := a[k]
	if !ok || len(v) == 0 {
		return "", false
	}
	return strings.Join(v, ","), true
}

// unknown records "Not a valid filter" for every argument not in allowed,
// as Plenario's sensor_network_validate did.
func (a params) unknown(p Problems, allowed ...string) {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !contains(allowed, k) {
			p.Add(k, MsgNotAFilter)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// window reads start_datetime and end_datetime as ParseQuery does, with
// def the default span: end defaults to now, start to def before end.
func (a params) window(p Problems, now time.Time, def time.Duration) (start, end time.Time) {
	end = ceilSecond(now)
	v, endGiven := a.get("end_datetime")
	if endGiven {
		if t, err := ParseDatetime(v); err != nil {
			p.Add("end_datetime", MsgBadDatetime)
		} else {
			end = ceilSecond(t)
		}
	}
	start = end.Add(-def)
	if epoch := time.Unix(0, 0).UTC(); start.Before(epoch) { // ClickHouse's DateTime starts there
		start = epoch
	}
	if v, ok := a.get("start_datetime"); ok {
		if t, err := ParseDatetime(v); err != nil {
			p.Add("start_datetime", MsgBadDatetime)
		} else {
			start = ceilSecond(t)
		}
	}
	if len(p["start_datetime"])+len(p["end_datetime"]) == 0 && !start.Before(end) {
		p.Add("start_datetime", "start_datetime must be before end_datetime.")
	}
	return start, end
}

// feature reads a required single feature argument: a feature or
// feature.property of the network.
func (a params) feature(p Problems, n *Network) (FeatureSel, bool) {
	v, ok := a.get("feature")
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		p.Add("feature", MsgRequired)
		return FeatureSel{}, false
	}
	name, prop, dotted := strings.Cut(v, ".")
	f, ok := n.Feature(name)
	if !ok {
		p.Add("feature", msgBadFeature+v)
		return FeatureSel{}, false
	}
	sel := FeatureSel{Feature: f.Name}
	if dotted {
		pr, ok := f.Property(prop)
		if !ok {
			p.Add("feature", msgBadFeature+v)
			return FeatureSel{}, false
		}
		sel.Property = pr.Name
	}
	return sel, true
}

// sensorProperties lists the properties of sel that sensor observes, in
// the feature's order.
func (n *Network) sensorProperties(sensor string, sel FeatureSel) []string {
	s, ok := n.Sensor(sensor)
	f, okf := n.Feature(sel.Feature)
	if !ok || !okf {
		return nil
	}
	var out []string
	for _, pr := range f.Properties {
		if sel.Property != "" && pr.Name != sel.Property {
			continue
		}
		for _, fp := range s.Properties {
			if fn, pn, _ := strings.Cut(fp, "."); strings.EqualFold(fn, f.Name) && strings.EqualFold(pn, pr.Name) {
				out = append(out, pr.Name)
				break
			}
		}
	}
	return out
}

// NodeProperties lists the properties of sel that node's sensors observe,
// only those of sensors when it is not empty, in the feature's order: what
// an aggregate of the node can have values for.
func (n *Network) NodeProperties(node Node, sensors []string, sel FeatureSel) []string {
	f, ok := n.Feature(sel.Feature)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	for _, s := range node.Sensors {
		if len(sensors) > 0 && !containsFold(sensors, s) {
			continue
		}
		for _, p := range n.sensorProperties(s, sel) {
			seen[p] = true
		}
	}
	var out []string
	for _, pr := range f.Properties {
		if seen[pr.Name] {
			out = append(out, pr.Name)
		}
	}
	return out
}

func containsFold(s []string, v string) bool {
	for _, x := range s {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

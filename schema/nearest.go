package schema

import (
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Nearest's search, as Plenario's (M) ran it: the ten nodes nearest the
// point that carry a sensor of the feature, readings within twelve hours
// either side of the time asked for.
const (
	NearestNodes  = 10
	NearestWindow = 12 * time.Hour
)

// Plenario's answers when nothing is found; they are the data, not errors.
const (
	MsgNoNearbyNodes  = "No nodes could be found nearby with your target feature."
	MsgNoNearbyReport = "Your feature has not been reported on by the nearest 10 nodes at the time provided."
)

// NearestQuery is a validated /nearest request.
type NearestQuery struct {
	Network  string
	Lat, Lng float64
	Feature  FeatureSel
	Datetime time.Time // whole seconds, UTC
}

// MarshalJSON echoes the query in the answer's meta.
func (q NearestQuery) MarshalJSON() ([]byte, error) {
	b := AppendJSONText([]byte(`{"network":`), q.Network)
	b = strconv.AppendFloat(append(b, `,"lat":`...), q.Lat, 'g', -1, 64)
	b = strconv.AppendFloat(append(b, `,"lng":`...), q.Lng, 'g', -1, 64)
	b = AppendJSONText(append(b, `,"feature":`...), q.Feature.String())
	b = append(b, `,"datetime":"`...)
	b = q.Datetime.AppendFormat(b, DatetimeLayout)
	return append(b, `"}`...), nil
}

// ParseNearest validates a /nearest request, reporting every problem at once.
func ParseNearest(args url.Values, n *Network, now time.Time) (NearestQuery, error) {
	a := params(args)
	p := Problems{}
	a.unknown(p, "lat", "lng", "feature", "datetime")
	q := NearestQuery{Network: n.Name, Datetime: now.UTC().Truncate(time.Second)}
	q.Lat = a.float(p, "lat", 90)
	q.Lng = a.float(p, "lng", 180)
	q.Feature, _ = a.feature(p, n)
	if v, ok := a.get("datetime"); ok {
		if t, err := ParseDatetime(v); err != nil {
			p.Add("datetime", MsgBadDatetime)
		} else {
			q.Datetime = t.Truncate(time.Second)
		}
	}
	return q, p.Err()
}

// float reads a required number k with |value| ≤ limit.
func (a params) float(p Problems, k string, limit float64) float64 {
	v, ok := a.get(k)
	if v = strings.TrimSpace(v); !ok || v == "" {
		p.Add(k, MsgRequired)
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		p.Add(k, MsgNotANumber)
	case math.Abs(f) > limit:
		p.Add(k, "Must be between -"+strconv.FormatFloat(limit, 'g', -1, 64)+" and "+strconv.FormatFloat(limit, 'g', -1, 64)+".")
	}
	return f
}

// NearestNodes returns up to k nodes carrying a sensor that observes sel,
// nearest the point first (great-circle distance; ties by ID).
func (n *Network) NearestNodes(lat, lng float64, sel FeatureSel, k int) []Node {
	type cand struct {
		node Node
		d    float64
	}
	var cs []cand
	for _, x := range n.Nodes {
		for _, s := range x.Sensors {
			if len(n.sensorProperties(s, sel)) > 0 {
				cs = append(cs, cand{x, haversine(lat, lng, x.Lat, x.Lon)})
				break
			}
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].node.ID < cs[j].node.ID
	})
	out := make([]Node, 0, min(k, len(cs)))
	for i := 0; i < len(cs) && i < k; i++ {
		out = append(out, cs[i].node)
	}
	return out
}

// haversine is the central angle between two points, in radians: ordering
// by it orders by distance on the sphere.
func haversine(lat1, lng1, lat2, lng2 float64) float64 {
	rad := math.Pi / 180
	dlat, dlng := (lat2-lat1)*rad, (lng2-lng1)*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlng/2)*math.Sin(dlng/2)
	return 2 * math.Asin(math.Sqrt(min(h, 1)))
}

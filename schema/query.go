package schema

import (
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Endpoint names which query syntax applies: the bulk download or the raw
// /query endpoint (one feature, paged).
type Endpoint int

// The endpoints that take the common query syntax.
const (
	Download Endpoint = iota
	Raw
	NodeList // the metadata lists: only geom; an area holding no node is for the caller to word
)

// Query limits. A request past them is refused at once instead of becoming a
// slow query.
const (
	DefaultWindow   = 7 * 24 * time.Hour  // a download's, when start_datetime is not given
	RawWindow       = 90 * 24 * time.Hour // /query's: the ticket era's get_observations looked back 90 days
	DefaultLimit    = 1000
	MaxLimit        = 10000
	MaxOffset       = 100_000 // deeper pages are what /download is for: past it, ClickHouse groups seconds of data per page
	MaxListItems    = 2000
	MaxGeomBytes    = 256 << 10
	MaxGeomVertices = 20000
	DatetimeLayout  = "2006-01-02T15:04:05"
)

// Plenario's error messages.
const (
	MsgNotAFilter   = "Not a valid filter"
	MsgBadDatetime  = "Not a valid datetime."
	MsgBadInteger   = "Not a valid integer."
	msgBadNetwork   = "Invalid network name: "
	msgBadNode      = "Invalid node ID: "
	msgBadSensor    = "Invalid sensor name: "
	msgBadFeature   = "Invalid feature of interest name: "
	msgBadGeom      = "Invalid geom: " // Plenario's, with the geom as given; our reason follows it
	msgTooManyItems = "Too many values: at most 2000."
)

// FeatureSel selects a feature, or one property of it when Property is set.
type FeatureSel struct {
	Feature  string
	Property string
}

func (f FeatureSel) String() string {
	if f.Property == "" {
		return f.Feature
	}
	return f.Feature + "." + f.Property
}

// Query is a validated request: every name in it exists in the network's
// metadata, in the metadata's own spelling, and the lists are explicit. The
// All* flags record that a list was defaulted to the whole network, so that
// a reader may skip that filter.
type Query struct {
	Network     string
	Features    []FeatureSel
	Nodes       []string
	Sensors     []string
	Geom        json.RawMessage
	Start, End  time.Time // [Start, End), UTC, whole seconds
	Limit       int       // Raw: the page; Download: rows at most, when LimitSet
	Offset      int       // rows (Download) or readings (Raw) skipped
	LimitSet    bool      // Download: limit=0 was given, which Limit alone cannot tell from none (see Capped)
	Filter      *Filter   // nil: no filter parameter
	FilterRows  bool      // Filter may be evaluated row by row (see Filter.PerRow)
	DataType    string    // Download only: the format the result is offered in by default
	AllFeatures bool
	AllNodes    bool
	AllSensors  bool
}

// Compact returns q without the lists that only repeat the network's: of a
// query of all nodes, all sensors or all features. Events and job records
// carry queries compacted (a network's hundred node IDs in every event and
// every fold cost more than the rest of the job together); Expand puts the
// lists back for the documents people read.
func (q Query) Compact() Query {
	if q.AllNodes {
		q.Nodes = nil
	}
	if q.AllSensors {
		q.Sensors = nil
	}
	if q.AllFeatures {
		q.Features = nil
	}
	return q
}

// Expand fills in the lists Compact left out, from the network's metadata.
func (q *Query) Expand(n *Network) {
	if q.AllNodes && q.Nodes == nil {
		q.Nodes = n.nodeIDs()
	}
	if q.AllSensors && q.Sensors == nil {
		q.Sensors = n.sensorNames()
	}
	if q.AllFeatures && q.Features == nil {
		q.Features = n.allFeatures()
	}
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

var allowed = map[Endpoint]map[string]bool{
	Download: {"features": true, "nodes": true, "sensors": true, "geom": true, "start_datetime": true, "end_datetime": true, "data_type": true,
		"limit": true, "offset": true, "filter": true},
	Raw: {"feature": true, "nodes": true, "sensors": true, "geom": true, "start_datetime": true, "end_datetime": true, "limit": true, "offset": true,
		"filter": true},
	NodeList: {"geom": true},
}

// ParseQuery validates args against the network's metadata and returns the
// resolved query, or an Invalid *Error listing every problem by parameter.
// now is the clock for the default window.
func ParseQuery(ep Endpoint, args url.Values, n *Network, now time.Time) (Query, error) {
	p := Problems{}
	q := Query{Network: n.Name}
	args = withAliases(ep, args)
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !allowed[ep][k] {
			p.Add(k, MsgNotAFilter)
		}
	}
	get := func(k string) (string, bool) {
		v, ok := args[k]
		if !ok || len(v) == 0 {
			return "", false
		}
		return strings.Join(v, ","), true
	}

	// Features.
	switch ep {
	case Download:
		if v, ok := get("features"); ok {
			q.Features = parseFeatures(p, "features", v, n)
		} else {
			q.AllFeatures = true
			q.Features = n.allFeatures()
		}
	case Raw:
		v, ok := get("feature")
		switch items := splitList(v); {
		case !ok || len(items) == 0:
			p.Add("feature", "Missing data for required field: exactly one feature of interest.")
		case len(items) > 1:
			p.Add("feature", "Only one feature of interest may be queried at a time; use /download for several.")
		default:
			q.Features = parseFeatures(p, "feature", v, n)
		}
	}

	// Sensors.
	if ep != NodeList {
		if v, ok := get("sensors"); ok {
			for _, s := range listOrProblem(p, "sensors", v) {
				if sen, ok := n.Sensor(s); ok {
					q.Sensors = appendUnique(q.Sensors, sen.Name)
				} else {
					p.Add("sensors", msgBadSensor+s)
				}
			}
		} else {
			q.AllSensors = true
			q.Sensors = n.sensorNames()
		}
	}

	// Nodes, then geom narrows them.
	nodesGiven := false
	if v, ok := get("nodes"); ok && ep != NodeList {
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
	if v, ok := get("geom"); ok {
		q.AllNodes = false
		g, err := ParseGeom(v)
		if err != nil {
			p["geom"] = append(p["geom"], msgBadGeom+v, "Could not parse geojson: "+err.Error())
		} else {
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
	}
	if ep == NodeList {
		return q, p.Err()
	}

	// Time window.
	q.End = ceilSecond(now)
	if v, ok := get("end_datetime"); ok {
		if t, err := ParseDatetime(v); err != nil {
			p.Add("end_datetime", MsgBadDatetime)
		} else {
			q.End = ceilSecond(t)
		}
	}
	window := DefaultWindow
	if ep == Raw {
		window = RawWindow
	}
	q.Start = q.End.Add(-window)
	if _, ok := get("end_datetime"); !ok {
		q.Start = ceilSecond(now.Add(-window))
	}
	if epoch := time.Unix(0, 0).UTC(); q.Start.Before(epoch) { // ClickHouse's DateTime starts there
		q.Start = epoch
	}
	if v, ok := get("start_datetime"); ok {
		if t, err := ParseDatetime(v); err != nil {
			p.Add("start_datetime", MsgBadDatetime)
		} else {
			q.Start = ceilSecond(t)
		}
	}
	if len(p["start_datetime"])+len(p["end_datetime"]) == 0 && !q.Start.Before(q.End) {
		p.Add("start_datetime", "start_datetime must be before end_datetime.")
	}

	if ep == Download { // none: the download serves JSON, as Plenario's did
		if v, ok := get("data_type"); ok {
			if f := strings.ToLower(strings.TrimSpace(v)); IsFormat(f) {
				q.DataType = f
			} else {
				p.Add("data_type", MsgDataType)
			}
		}
	}
	if ep == Raw {
		q.Limit = intArg(p, args, "limit", DefaultLimit, 1, MaxLimit)
		q.Offset = intArg(p, args, "offset", 0, 0, MaxOffset)
	}
	if ep == Download {
		q.Limit, q.LimitSet, q.Offset = downloadPage(p, args)
		q.LimitSet = q.LimitSet && q.Limit == 0
	}
	if v, ok := get("filter"); ok {
		q.Filter = ParseFilter(p, v, n, q.Features)
		q.FilterRows = q.Filter != nil && q.Filter.PerRow(n, q.Features)
	}
	return q, p.Err()
}

func intArg(p Problems, args url.Values, k string, def, lo, hi int) int {
	v := args.Get(k)
	if _, ok := args[k]; !ok {
		return def
	}
	i, err := strconv.Atoi(strings.TrimSpace(v))
	switch {
	case err != nil:
		p.Add(k, MsgBadInteger)
	case i < lo || i > hi:
		p.Add(k, rangeMsg(i, lo, hi))
	}
	return i
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

func ceilSecond(t time.Time) time.Time {
	t = t.UTC()
	if tr := t.Truncate(time.Second); !tr.Equal(t) {
		return tr.Add(time.Second)
	}
	return t
}

var datetimeRE = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(\s*(?:Z|z|[+-]\d{2}:?\d{2})|\s+\d{2}:\d{2})?$`)

// ParseDatetime reads the lenient ISO 8601 Plenario accepted: 2017-1-1,
// 2016-12-1T00:00:00.000, with T, t or a space, with or without Z or an
// offset; an offset's + may have become a space, as an unencoded + in a
// query string does. A time without an offset is UTC.
func ParseDatetime(s string) (time.Time, error) {
	m := datetimeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return time.Time{}, Errorf(Invalid, MsgBadDatetime)
	}
	num := func(s string) int { i, _ := strconv.Atoi(s); return i }
	y, mo, d := num(m[1]), num(m[2]), num(m[3])
	h, mi, sec := num(m[4]), num(m[5]), num(m[6])
	ns := 0
	if m[7] != "" {
		ns = num((m[7] + "000000000")[:9])
	}
	if mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 || y < 1970 || y > 2105 {
		return time.Time{}, Errorf(Invalid, MsgBadDatetime)
	}
	loc := time.UTC
	if z := strings.TrimSpace(m[8]); z != "" && z != "Z" && z != "z" {
		if z[0] != '+' && z[0] != '-' { // a query string's unencoded + read as a space
			if m[4] == "" {
				return time.Time{}, Errorf(Invalid, MsgBadDatetime)
			}
			z = "+" + z
		}
		z = strings.ReplaceAll(z, ":", "")
		if num(z[1:3]) > 23 || num(z[3:5]) > 59 {
			return time.Time{}, Errorf(Invalid, MsgBadDatetime)
		}
		off := (num(z[1:3])*60 + num(z[3:5])) * 60
		if z[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, loc)
	if t.Day() != d { // 2017-2-30 normalised into March
		return time.Time{}, Errorf(Invalid, MsgBadDatetime)
	}
	// The range holds in UTC, what ClickHouse's DateTime stores, not just
	// as written: 1970-01-01T00:00+01:00 is before the epoch.
	if t = t.UTC(); t.Year() < 1970 || t.Year() > 2105 {
		return time.Time{}, Errorf(Invalid, MsgBadDatetime)
	}
	return t, nil
}

// NetworkProblem is the error for a network name that names nothing.
func NetworkProblem(name string) error {
	p := Problems{}
	p.Add("network", msgBadNetwork+name)
	return p.Err()
}

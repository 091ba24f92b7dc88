package schema

import (
	"encoding/json"
	"net/url"
	"sort"
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
	a := queryArgs(args)

	q.selectFeatures(p, ep, a, n)
	if ep != NodeList {
		q.selectSensors(p, a, n)
	}
	q.selectNodes(p, ep, a, n)
	if ep == NodeList {
		return q, p.Err()
	}
	q.selectWindow(p, ep, a, now)

	if ep == Download { // none: the download serves JSON, as Plenario's did
		if v, ok := a.get("data_type"); ok {
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
	if v, ok := a.get("filter"); ok {
		q.Filter = ParseFilter(p, v, n, q.Features)
		q.FilterRows = q.Filter != nil && q.Filter.PerRow(n, q.Features)
	}
	return q, p.Err()
}

// queryArgs are a request's arguments once aliases are resolved.
type queryArgs url.Values

// get returns argument k, a repeated one joined by commas, as Plenario's
// lists were; ok is false when k is absent or has no value.
func (a queryArgs) get(k string) (string, bool) {
	v, ok := a[k]
	if !ok || len(v) == 0 {
		return "", false
	}
	return strings.Join(v, ","), true
}

// NetworkProblem is the error for a network name that names nothing.
func NetworkProblem(name string) error {
	p := Problems{}
	p.Add("network", msgBadNetwork+name)
	return p.Err()
}

package schema

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Aggregate limits and defaults. The default window is the ticket era's
// (one day); the bucket limit keeps an answer a client can hold: a week of
// minutes or two years of hours fit, a minute aggregate over years is
// refused at once instead of becoming megabytes of empty buckets.
const (
	DefaultAggregateWindow = 24 * time.Hour
	DefaultAggregateFunc   = "avg"
	DefaultAggregateUnit   = "hour"
	MaxAggregateBuckets    = 20000
)

// MsgContradictory is Plenario's answer when no property of the feature can
// be aggregated for the node and sensors asked for.
const MsgContradictory = "Your query returns no results. You have specified filters which are likely contradictory " +
	"(for example filtering on a sensor which doesn't have the feature you are aggregating for)"

// AggregateFunctions are the functions /aggregate applies, by Plenario's
// names: std and var are the sample statistics (Postgres' stddev and
// variance), med the exact median.
var AggregateFunctions = []string{"avg", "std", "var", "min", "max", "med"}

// AggregateUnits are the time buckets /aggregate groups by; weeks start on
// Monday (Postgres' date_trunc), all in UTC.
var AggregateUnits = []string{"minute", "hour", "day", "week", "month", "year"}

// AggregateQuery is a validated /aggregate request.
type AggregateQuery struct {
	Network    string
	Node       string
	Feature    FeatureSel
	Only       []string // feature named several of one feature's properties (vector.x,vector.y): only those; nil: Feature decides
	Sensors    []string // only these sensors' readings; nil: all of the node's
	Properties []string // what is aggregated: the feature's properties the node's (chosen) sensors observe
	Function   string   // one of AggregateFunctions
	Unit       string   // one of AggregateUnits
	Start, End time.Time
}

// MarshalJSON echoes the query in the answer's meta.
func (q AggregateQuery) MarshalJSON() ([]byte, error) {
	b := []byte(`{"network":`)
	b = AppendJSONText(b, q.Network)
	b = AppendJSONText(append(b, `,"node":`...), q.Node)
	feature := q.Feature.String()
	for i, pr := range q.Only {
		if i == 0 {
			feature = ""
		} else {
			feature += ","
		}
		feature += q.Feature.Feature + "." + pr
	}
	b = AppendJSONText(append(b, `,"feature":`...), feature)
	if q.Sensors != nil {
		b = appendList(b, `,"sensors":[`, q.Sensors, false)
	}
	b = AppendJSONText(append(b, `,"function":`...), q.Function)
	b = AppendJSONText(append(b, `,"agg":`...), q.Unit)
	b = append(b, `,"start_datetime":"`...)
	b = q.Start.AppendFormat(b, DatetimeLayout)
	b = append(b, `","end_datetime":"`...)
	b = q.End.AppendFormat(b, DatetimeLayout)
	return append(b, `"}`...), nil
}

// ParseAggregate validates an /aggregate request against the network's
// metadata, reporting every problem at once. A feature with no property the
// node's chosen sensors observe is an Invalid error with MsgContradictory
// as its Message, Plenario's plain-string error.
func ParseAggregate(args url.Values, n *Network, now time.Time) (AggregateQuery, error) {
	a := params(args)
	p := Problems{}
	a.unknown(p, "node", "feature", "sensors", "function", "agg", "start_datetime", "end_datetime")
	q := AggregateQuery{Network: n.Name, Function: DefaultAggregateFunc, Unit: DefaultAggregateUnit}
	node, nodeOK := Node{}, false
	if v, ok := a.get("node"); !ok || strings.TrimSpace(v) == "" {
		p.Add("node", MsgRequired)
	} else if node, nodeOK = n.Node(strings.TrimSpace(v)); nodeOK {
		q.Node = node.ID
	} else {
		p.Add("node", msgBadNode+strings.TrimSpace(v))
	}
	var featureOK bool
	q.Feature, q.Only, featureOK = aggregateFeature(a, p, n)
	if v, ok := a.get("sensors"); ok {
		q.Sensors = []string{}
		for _, s := range listOrProblem(p, "sensors", v) {
			if sen, ok := n.Sensor(s); ok {
				q.Sensors = appendUnique(q.Sensors, sen.Name)
			} else {
				p.Add("sensors", msgBadSensor+s)
			}
		}
	}
	if v, ok := a.get("function"); ok {
		if q.Function = strings.ToLower(strings.TrimSpace(v)); !contains(AggregateFunctions, q.Function) {
			p.Add("function", MsgInvalidValue)
		}
	}
	if v, ok := a.get("agg"); ok {
		if q.Unit = strings.ToLower(strings.TrimSpace(v)); !contains(AggregateUnits, q.Unit) {
			p.Add("agg", MsgInvalidValue)
		}
	}
	q.Start, q.End = a.window(p, now, DefaultAggregateWindow)
	if len(p["agg"])+len(p["start_datetime"])+len(p["end_datetime"]) == 0 {
		if k := BucketCount(q.Unit, q.Start, q.End); k > MaxAggregateBuckets {
			p.Add("agg", "Too many time buckets: "+strconv.Itoa(k)+" "+q.Unit+"s from start_datetime to end_datetime, at most "+
				strconv.Itoa(MaxAggregateBuckets)+". Choose a coarser agg or a shorter window.")
		}
	}
	if err := p.Err(); err != nil {
		return q, err
	}
	if nodeOK && featureOK {
		if q.Properties = keepOnly(n.NodeProperties(node, q.Sensors, q.Feature), q.Only); len(q.Properties) == 0 {
			return q, Errorf(Invalid, "%s", MsgContradictory)
		}
	}
	return q, nil
}

// aggregateFeature reads /aggregate's feature: one feature or property
// (params.feature), or, as Plenario's explorer sends a chart's types
// (node-chart.js: feature=vector.x,vector.y, an array's toString), a comma
// list of one feature's properties, which M's get_aggregations split and
// aggregated each of. A list naming a whole feature is that feature.
func aggregateFeature(a params, p Problems, n *Network) (FeatureSel, []string, bool) {
	v, _ := a.get("feature")
	items := splitList(v)
	switch len(items) {
	case 0:
		sel, ok := a.feature(p, n) // the required field's message
		return sel, nil, ok
	case 1:
		sel, ok := params{"feature": items}.feature(p, n)
		return sel, nil, ok
	}
	var sel FeatureSel
	var only []string
	whole := false
	for i, item := range items {
		s, ok := params{"feature": {item}}.feature(p, n)
		switch {
		case !ok:
			return FeatureSel{}, nil, false
		case i > 0 && s.Feature != sel.Feature:
			p.Add("feature", "Only one feature of interest may be aggregated at a time: "+sel.Feature+" and "+s.Feature+".")
			return FeatureSel{}, nil, false
		}
		sel.Feature = s.Feature
		whole = whole || s.Property == ""
		only = appendUnique(only, s.Property)
	}
	if whole {
		return sel, nil, true
	}
	return sel, only, true
}

// keepOnly is props without those not in only; props when only is nil.
func keepOnly(props, only []string) []string {
	if only == nil {
		return props
	}
	var out []string
	for _, pr := range props {
		if contains(only, pr) {
			out = append(out, pr)
		}
	}
	return out
}

// TruncateUnit is the start of the bucket of unit that holds t, in UTC.
func TruncateUnit(t time.Time, unit string) time.Time {
	t = t.UTC()
	switch unit {
	case "minute":
		return t.Truncate(time.Minute)
	case "hour":
		return t.Truncate(time.Hour)
	case "day":
		return t.Truncate(24 * time.Hour)
	case "week": // Go's zero time is a Monday
		return t.Truncate(7 * 24 * time.Hour)
	case "month":
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	default: // year
		return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	}
}

// NextUnit is the start of the bucket after the one starting at b.
func NextUnit(b time.Time, unit string) time.Time {
	switch unit {
	case "minute":
		return b.Add(time.Minute)
	case "hour":
		return b.Add(time.Hour)
	case "day":
		return b.AddDate(0, 0, 1)
	case "week":
		return b.AddDate(0, 0, 7)
	case "month":
		return b.AddDate(0, 1, 0)
	default:
		return b.AddDate(1, 0, 0)
	}
}

// BucketCount is how many buckets of unit meet [start, end): the first holds
// start, the last holds the last second before end.
func BucketCount(unit string, start, end time.Time) int {
	if !start.Before(end) {
		return 0
	}
	first, last := TruncateUnit(start, unit), TruncateUnit(end.Add(-time.Second), unit)
	switch unit {
	case "month":
		return (last.Year()-first.Year())*12 + int(last.Month()-first.Month()) + 1
	case "year":
		return last.Year() - first.Year() + 1
	}
	step := NextUnit(first, unit).Sub(first)
	return int(last.Sub(first)/step) + 1
}

// AggregateValue is one property's aggregate in one bucket, as ClickHouse
// computed it.
type AggregateValue struct {
	Bucket   time.Time
	Property string
	Value    float64
	Count    uint64
}

// AggregateBucket is one element of /aggregate's data:
// {"time_bucket":"…","<property>":{"<function>":value|null,"count":n},…}.
type AggregateBucket struct {
	Time     time.Time
	Function string
	Props    []string
	Values   []float64 // NaN: null
	Counts   []uint64
}

// MarshalJSON writes the bucket in Plenario's shape, time_bucket first.
func (b AggregateBucket) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 40+48*len(b.Props))
	out = append(out, `{"time_bucket":"`...)
	out = b.Time.UTC().AppendFormat(out, DatetimeLayout)
	out = append(out, '"')
	for i, prop := range b.Props {
		out = AppendJSONText(append(out, ','), prop)
		out = AppendJSONText(append(out, ":{"...), b.Function)
		out = append(out, ':')
		if v := b.Values[i]; math.IsNaN(v) || math.IsInf(v, 0) {
			out = append(out, "null"...)
		} else {
			out = strconv.AppendFloat(out, v, 'g', -1, 64)
		}
		out = strconv.AppendUint(append(out, `,"count":`...), b.Counts[i], 10)
		out = append(out, '}')
	}
	return append(out, '}'), nil
}

// FillBuckets turns ClickHouse's sparse aggregates (ordered by bucket) into
// every bucket of [q.Start, q.End), each with every property of q, empty
// ones null with a count of 0. No values at all is no buckets, as Plenario
// answered.
func FillBuckets(q *AggregateQuery, vals []AggregateValue) []AggregateBucket {
	out := []AggregateBucket{}
	if len(vals) == 0 {
		return out
	}
	out = make([]AggregateBucket, 0, BucketCount(q.Unit, q.Start, q.End))
	idx := make(map[string]int, len(q.Properties))
	for i, p := range q.Properties {
		idx[p] = i
	}
	k := 0
	for b := TruncateUnit(q.Start, q.Unit); b.Before(q.End); b = NextUnit(b, q.Unit) {
		bk := AggregateBucket{Time: b, Function: q.Function, Props: q.Properties,
			Values: make([]float64, len(q.Properties)), Counts: make([]uint64, len(q.Properties))}
		for i := range bk.Values {
			bk.Values[i] = math.NaN()
		}
		for ; k < len(vals) && vals[k].Bucket.Before(NextUnit(b, q.Unit)); k++ {
			if i, ok := idx[vals[k].Property]; ok && !vals[k].Bucket.Before(b) {
				bk.Values[i], bk.Counts[i] = vals[k].Value, vals[k].Count
			}
		}
		out = append(out, bk)
	}
	return out
}

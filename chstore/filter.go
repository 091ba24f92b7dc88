package chstore

import (
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/plenario-next/exportd/schema"
)

// filterWhere adds q's filter to w, the WHERE clause (with its args) of q's
// rows in [from, to). Every value is a bound parameter; the SQL text comes
// from this file alone.
//
// A filter on columns only (node_id, sensor, datetime) holds for all rows
// of an observation alike: it is a condition on rows, and so is one that
// schema.Filter.PerRow allows (q.FilterRows), "temperature above 30". One on properties is
// a condition on observations (see schema.Filter): the observations of the
// slice are grouped by (node_id, ts, sensor, feature), the filter is
// evaluated on each group, and the rows of the groups it holds for are
// kept, with a subquery on the group keys that ClickHouse 18.16 runs as it
// runs the rest.
func filterWhere(q *schema.Query, from, to time.Time, w string, args []any) (string, []any) {
	f := q.Filter
	if f.RowLevel() || q.FilterRows {
		cond, cargs := filterCond(f, true)
		return w + " AND (" + cond + ")", append(args, cargs...)
	}
	gw, gargs := groupWhere(q, from, to, true)
	cond, cargs := filterCond(f, false)
	w += " AND (node_id, ts, sensor, feature) IN (SELECT node_id, ts, sensor, feature FROM observations WHERE " + gw +
		" GROUP BY node_id, ts, sensor, feature HAVING " + cond + ")"
	args = append(args, gargs...)
	return w, append(args, cargs...)
}

// groupWhere is the WHERE clause of the rows of the observations q's
// filter is evaluated on: every property of them, not only those the
// query selects (a filter on y keeps the x of the readings it holds for).
// With few, only the rows of the properties compared, which alone can
// change the outcome, unless "is null" holds for readings without any.
func groupWhere(q *schema.Query, from, to time.Time, few bool) (string, []any) {
	g := *q
	g.Filter, g.FilterRows = nil, false
	g.Features = make([]schema.FeatureSel, 0, len(q.Features))
	for _, s := range q.Features {
		g.Features = append(g.Features, schema.FeatureSel{Feature: s.Feature})
	}
	gw, gargs := where(&g, from, to)
	if props, nullable := q.Filter.Properties(); few && !nullable {
		gw += " AND property IN ?"
		gargs = append(gargs, set(props))
	}
	return gw, gargs
}

// grouped reports whether q's filter is evaluated on observation groups.
func grouped(q *schema.Query) bool {
	return q.Filter != nil && !q.Filter.RowLevel() && !q.FilterRows
}

// groupedSQL is a query of one pass over the rows of q in [from, to) for a
// grouped filter, faster than where's subquery (which reads the rows twice
// and looks every row's key up in a set: on 5M demo rows a week of
// magnetic_field took 4 s that way, 1.6 s in one pass): it groups the
// observations, keeps those the filter holds for, and gives, per kept
// observation, its selected rows as arrays (rows) or their count.
func groupedSQL(q *schema.Query, from, to time.Time, rows bool) (string, []any) {
	sel, sargs := where(&schema.Query{Network: q.Network, Features: q.Features, Nodes: q.Nodes, Sensors: q.Sensors,
		AllFeatures: q.AllFeatures, AllNodes: q.AllNodes, AllSensors: q.AllSensors}, from, to)
	gw, gargs := groupWhere(q, from, to, false)
	cond, cargs := filterCond(q.Filter, false)
	var head string
	var args []any
	if rows {
		head = "SELECT node_id, ts, sensor, feature, groupArrayIf(property, " + sel + ") AS ps, groupArrayIf(value, " + sel + ") AS vs"
		args = append(append(args, sargs...), sargs...)
	} else {
		head = "SELECT ts, countIf(" + sel + ") AS n"
		args = append(args, sargs...)
	}
	args = append(append(args, gargs...), cargs...)
	return head + " FROM observations WHERE " + gw + " GROUP BY node_id, ts, sensor, feature HAVING " + cond, args
}

// comparisons are the SQL of Plenario's comparison operators.
var comparisons = map[string]string{
	schema.FilterEq: "=", schema.FilterNe: "!=", schema.FilterGt: ">", schema.FilterGe: ">=",
	schema.FilterLt: "<", schema.FilterLe: "<=",
}

// filterCond is the condition f stands for, on rows when rows is set (f
// is row-level or schema.Filter.PerRow holds), else on a group of an
// observation's rows (properties are compared with countIf, columns are
// the group's keys).
func filterCond(f *schema.Filter, rows bool) (string, []any) {
	if f.Branch() {
		join := " AND "
		if f.Op == schema.FilterOr {
			join = " OR "
		}
		var parts []string
		var args []any
		for _, a := range f.Args {
			c, ca := filterCond(a, rows)
			parts = append(parts, "("+c+")")
			args = append(args, ca...)
		}
		return strings.Join(parts, join), args
	}
	if f.Col == "" {
		return propertyCond(f, rows)
	}
	col := f.Col
	vals := f.Values
	if col == schema.ColDatetime {
		col = "ts"
		vals = make([]any, len(f.Values))
		for i, v := range f.Values {
			vals[i] = uint32(v.(time.Time).Unix())
		}
	}
	switch f.Op {
	case schema.FilterIs: // columns are never null
		return "0", nil
	case schema.FilterIsNot:
		return "1", nil
	case schema.FilterIn:
		if col == "ts" {
			return "toUInt32(ts) IN ?", []any{clickhouse.GroupSet{Value: vals}}
		}
		return col + " IN ?", []any{clickhouse.GroupSet{Value: vals}}
	case schema.FilterLike:
		return col + " LIKE ?", vals
	case schema.FilterILike: // ILIKE is younger than ClickHouse 18.16
		return "lowerUTF8(" + col + ") LIKE lowerUTF8(?)", vals
	}
	if col == "ts" {
		return "ts " + comparisons[f.Op] + " toDateTime(?)", vals
	}
	return col + " " + comparisons[f.Op] + " ?", vals
}

// propertyCond is a comparison of a property on an observation's rows: it
// holds when the observation has the property with a value that compares
// true; "is null" when it does not have it. Row by row, a row of the
// property compares its value, and any other row is of a reading without it.
func propertyCond(f *schema.Filter, rows bool) (string, []any) {
	has, args := "property = ?", []any{f.Property}
	if f.Feature != "" {
		has, args = "feature = ? AND property = ?", []any{f.Feature, f.Property}
	}
	cond := has
	switch f.Op {
	case schema.FilterIs, schema.FilterIsNot:
	case schema.FilterIn:
		cond, args = has+" AND value IN ?", append(args, clickhouse.GroupSet{Value: f.Values})
	default:
		cond, args = has+" AND value "+comparisons[f.Op]+" ?", append(args, f.Values[0])
	}
	switch {
	case rows && f.Op == schema.FilterIs:
		return "NOT (" + cond + ")", args
	case rows:
		return cond, args
	case f.Op == schema.FilterIs:
		return "countIf(" + cond + ") = 0", args
	}
	return "countIf(" + cond + ") > 0", args
}

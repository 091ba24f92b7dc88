package schema

import (
	"encoding/json"
	"time"
)

// Filter is a validated condition tree of a query's filter parameter, in
// Plenario's syntax: a leaf {"op","col"|"prop","val"} compares a column or a
// property, a branch {"op":"and"|"or","val":[…]} combines conditions.
//
// Our rows are long (one value per row), Plenario's were wide (one
// observation per row), so a filter is a condition on an observation, the
// group of rows of one (node, datetime, sensor, feature): it keeps every
// row of the observations it holds for, as Plenario kept whole rows. A
// property an observation does not have is null there: any comparison with
// it fails, and only "is null" holds. So "temperature above 30" keeps the
// temperature readings above 30, and "x > 0.5 and z < 0" on magnetic_field
// keeps the x, y and z of the readings where both hold.
type Filter struct {
	Op   string    // FilterAnd, FilterOr, or a comparison (FilterEq, …)
	Args []*Filter // and, or: at least one

	// A comparison names a column (Col) or a property (Property, of
	// Feature, or of any queried feature when Feature is "").
	Col      string
	Feature  string
	Property string
	// Values are what it compares with: float64 for a property, string for
	// node_id and sensor, time.Time (whole seconds, UTC) for datetime; one
	// value, several for in, none (null) for is and isnot.
	Values []any
}

// Filter operators: Plenario's condition_builder.field_ops, and the two
// branches.
const (
	FilterAnd   = "and"
	FilterOr    = "or"
	FilterEq    = "eq"
	FilterNe    = "ne"
	FilterGt    = "gt"
	FilterGe    = "ge"
	FilterLt    = "lt"
	FilterLe    = "le"
	FilterLike  = "like"
	FilterILike = "ilike"
	FilterIn    = "in"
	FilterIs    = "is"
	FilterIsNot = "isnot"
)

// Filter columns: the parts of an observation that are not its properties.
const (
	ColNode     = "node_id"
	ColSensor   = "sensor"
	ColDatetime = "datetime"
)

// Bounds of a filter, so that one request cannot become an unbounded SQL
// expression: the text, the nesting and the values compared with.
const (
	MaxFilterBytes  = 8 << 10
	MaxFilterDepth  = 8
	MaxFilterLeaves = 64
	MaxFilterValues = 1000
)

// Branch reports whether f is an and or an or.
func (f *Filter) Branch() bool { return f.Op == FilterAnd || f.Op == FilterOr }

// Walk calls fn on f and every condition below it, parents first.
func (f *Filter) Walk(fn func(*Filter)) {
	fn(f)
	for _, a := range f.Args {
		a.Walk(fn)
	}
}

// RowLevel reports whether f names columns only: then it holds for every
// row of an observation alike and is a plain condition on rows.
func (f *Filter) RowLevel() bool {
	ok := true
	f.Walk(func(g *Filter) { ok = ok && (g.Branch() || g.Col != "") })
	return ok
}

// Properties returns the properties f compares, each once, and whether
// some comparison holds where a property is missing (is null): then every
// row of an observation matters, not only those of these properties.
func (f *Filter) Properties() (props []string, nullable bool) {
	seen := map[string]bool{}
	f.Walk(func(g *Filter) {
		if g.Branch() || g.Col != "" {
			return
		}
		if g.Op == FilterIs {
			nullable = true
		}
		if !seen[g.Property] {
			seen[g.Property] = true
			props = append(props, g.Property)
		}
	})
	return props, nullable
}

// PerRow reports whether f, on the rows sel selects, may be evaluated row
// by row, a plain WHERE, with the same outcome as on whole observations:
// when it compares one property p only (and columns), and every selected
// feature that has p is selected for p alone ("temperature above 30" on
// temperature, whose one property it is). Then a row of p carries the
// value the filter compares, and any other row selected is of a reading
// without p (by the network's metadata), for which p is null.
func (f *Filter) PerRow(n *Network, sel []FeatureSel) bool {
	var leaf *Filter
	same := true
	f.Walk(func(g *Filter) {
		switch {
		case g.Branch() || g.Col != "":
		case leaf == nil:
			leaf = g
		case g.Feature != leaf.Feature || g.Property != leaf.Property:
			same = false
		}
	})
	if leaf == nil || !same {
		return false
	}
	for _, s := range sel {
		ft, ok := n.Feature(s.Feature)
		if !ok {
			return false
		}
		if _, has := ft.Property(leaf.Property); !has || leaf.Feature != "" && leaf.Feature != ft.Name {
			continue // p is null on all its readings
		}
		if s.Property != leaf.Property && (s.Property != "" || len(ft.Properties) != 1) {
			return false
		}
	}
	return true
}

// filterJSON is a condition as written: the request's syntax, with col for
// columns and prop for properties ("feature.property", or a bare property
// of any queried feature).
type filterJSON struct {
	Op   string `json:"op"`
	Col  string `json:"col,omitempty"`
	Prop string `json:"prop,omitempty"`
	Val  any    `json:"val"`
}

// MarshalJSON writes f in the request's syntax, names in the metadata's
// spelling: what a ticket echoes, and what a job carries to the exporters
// (UnmarshalJSON reads it back without the metadata).
func (f *Filter) MarshalJSON() ([]byte, error) {
	j := filterJSON{Op: f.Op, Col: f.Col}
	switch {
	case f.Branch():
		j.Val = f.Args
		return json.Marshal(j)
	case f.Col == "" && f.Feature != "":
		j.Prop = f.Feature + "." + f.Property
	case f.Col == "":
		j.Prop = f.Property
	}
	vals := make([]any, len(f.Values))
	for i, v := range f.Values {
		if t, ok := v.(time.Time); ok {
			v = t.UTC().Format(DatetimeLayout)
		}
		vals[i] = v
	}
	switch {
	case f.Op == FilterIn:
		j.Val = vals
	case len(vals) == 1:
		j.Val = vals[0]
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote. The names are taken as they
// are: they were checked against the metadata when the request came in.
func (f *Filter) UnmarshalJSON(b []byte) error {
	g, err := ParseStoredFilter(b)
	if err != nil {
		return err
	}
	*f = *g
	return nil
}

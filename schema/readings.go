package schema

import "sort"

// Readings that share a second. A sensor may report one property twice
// within a second (real Array of Things data does), so the rows of one
// (node, datetime, sensor, feature) can hold a property more than once.
// One observation cannot carry both values: a JSON object with a repeated
// key loses one to every parser, and strict parsers reject it. So every
// renderer follows one rule: a row whose property is already in the open
// observation starts a new observation. Rows come sorted by property
// within a reading (the export's order, and /query sorts them), so
// {x,x,y} becomes {x} then {x,y}: every value is carried, each object has
// unique keys, and the objects of a reading stay next to one another.

// AppendReading appends to out the observations of one reading: base
// (node, datetime, sensor, feature, meta_id) with the values of props,
// sorted by property and split by the rule above. A reading whose
// properties are all different is one observation.
func AppendReading(out []Observation, base Observation, props []string, vals []float64) []Observation {
	idx := make([]int, len(props))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { // values too: the same page twice reads the same
		pa, pb := props[idx[a]], props[idx[b]]
		return pa < pb || pa == pb && vals[idx[a]] < vals[idx[b]]
	})
	var cur map[string]float64
	for _, i := range idx {
		if _, dup := cur[props[i]]; cur == nil || dup {
			cur = make(map[string]float64, len(props))
			o := base
			o.Results = cur
			out = append(out, o)
		}
		cur[props[i]] = vals[i]
	}
	return out
}

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

// propSet is the properties of the open observation, for that rule, in a
// JSONWriter: its fields are slices of its input, so they are copied. It
// reuses its memory: after the first few observations, adding and asking
// allocate nothing.
type propSet struct {
	names []byte // the properties one after another
	ends  []int  // where each ends in names
}

func (s *propSet) reset() {
	s.names, s.ends = s.names[:0], s.ends[:0]
}

// hasBytes reports whether p is in the set. The last property added is
// asked first: sorted rows repeat the one before them.
func (s *propSet) hasBytes(p []byte) bool {
	for i := len(s.ends) - 1; i >= 0; i-- {
		start := 0
		if i > 0 {
			start = s.ends[i-1]
		}
		if string(s.names[start:s.ends[i]]) == string(p) {
			return true
		}
	}
	return false
}

func (s *propSet) addBytes(p []byte) {
	s.names = append(s.names, p...)
	s.ends = append(s.ends, len(s.names))
}

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

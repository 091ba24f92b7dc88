package schema

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Filter messages. Problems name where in the tree they are (val[1].val[0])
// and what is wrong, all of them at once, keyed "filter".
const (
	msgBadColumn   = "Invalid column name: "
	msgBadNumber   = "Not a valid number."
	msgBadString   = "Not a valid string."
	msgFilterShape = `must be an object: {"op","col","val"} or {"op":"and"|"or","val":[…]}.`
	maxFilterMsgs  = 20
)

var filterOps = map[string]bool{FilterAnd: true, FilterOr: true, FilterEq: true, FilterNe: true, FilterGt: true,
	FilterGe: true, FilterLt: true, FilterLe: true, FilterLike: true, FilterILike: true, FilterIn: true,
	FilterIs: true, FilterIsNot: true}

const filterOpList = "and, or, eq, ne, gt, ge, lt, le, like, ilike, in, is, isnot"

// ParseFilter validates a request's filter against the network and the
// query's features, and returns it; every problem is added to p under
// "filter", and then it returns nil. Names are case-insensitive: node_id
// (or node), sensor and datetime are columns; "feature.property" is a
// property of one of the queried features, a bare name a property of any
// of them.
func ParseFilter(p Problems, raw string, n *Network, features []FeatureSel) *Filter {
	fp := &filterParser{n: n}
	for _, s := range features {
		if f, ok := n.Feature(s.Feature); ok {
			fp.feats = append(fp.feats, f)
		}
	}
	if len(fp.feats) == 0 { // the features were wrong: check names against all
		fp.feats = n.Features
	}
	f := fp.parse([]byte(raw))
	for _, m := range fp.msgs {
		p.Add("filter", m)
	}
	if len(fp.msgs) > 0 {
		return nil
	}
	return f
}

// ParseStoredFilter reads a filter as Filter.MarshalJSON wrote it, without
// the metadata: its names were checked when the request came in.
func ParseStoredFilter(b []byte) (*Filter, error) {
	fp := &filterParser{}
	f := fp.parse(b)
	if len(fp.msgs) > 0 {
		return nil, Errorf(Invalid, "filter: %s", strings.Join(fp.msgs, " "))
	}
	return f, nil
}

// filterParser walks a filter's JSON. Without a network (n nil) it reads
// a stored filter and takes names as written.
type filterParser struct {
	n       *Network
	feats   []Feature // the queried features
	msgs    []string
	leaves  int
	nvalues int
}

func (fp *filterParser) add(path, msg string) {
	if path != "" {
		msg = path + ": " + msg
	}
	switch {
	case len(fp.msgs) < maxFilterMsgs:
		fp.msgs = append(fp.msgs, msg)
	case len(fp.msgs) == maxFilterMsgs:
		fp.msgs = append(fp.msgs, "… and more problems.")
	}
}

func (fp *filterParser) parse(b []byte) *Filter {
	if len(b) > MaxFilterBytes {
		fp.add("", "Too large: at most "+strconv.Itoa(MaxFilterBytes)+" bytes.")
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		fp.add("", "Not valid JSON: "+strings.TrimPrefix(err.Error(), "json: ")+".")
		return nil
	}
	if d.More() {
		fp.add("", "Not valid JSON: more than one value.")
		return nil
	}
	return fp.node(v, "", 1)
}

func (fp *filterParser) node(v any, path string, depth int) *Filter {
	m, ok := v.(map[string]any)
	if !ok {
		fp.add(path, msgFilterShape)
		return nil
	}
	for k := range m {
		if k != "op" && k != "col" && k != "prop" && k != "val" {
			fp.add(path, "unknown key "+strconv.Quote(k)+"; a condition has op, col (or prop) and val.")
		}
	}
	op, _ := m["op"].(string)
	val, hasVal := m["val"]
	switch {
	case m["op"] == nil:
		fp.add(path, "missing op.")
		return nil
	case !filterOps[op]:
		fp.add(path, "unknown op "+quoteAny(m["op"])+"; one of "+filterOpList+".")
		return nil
	case !hasVal:
		fp.add(path, "missing val.")
		return nil
	case op == FilterAnd || op == FilterOr:
		return fp.branch(m, op, val, path, depth)
	}
	return fp.leaf(m, op, val, path)
}

func (fp *filterParser) branch(m map[string]any, op string, val any, path string, depth int) *Filter {
	if _, ok := m["col"]; ok {
		fp.add(path, op+" takes no col.")
	}
	if _, ok := m["prop"]; ok {
		fp.add(path, op+" takes no prop.")
	}
	list, ok := val.([]any)
	if !ok || len(list) == 0 {
		fp.add(path, op+" takes a list of conditions as val.")
		return nil
	}
	if depth >= MaxFilterDepth {
		fp.add(path, "Nested too deep: at most "+strconv.Itoa(MaxFilterDepth)+" levels.")
		return nil
	}
	f := &Filter{Op: op}
	for i, c := range list {
		p := "val[" + strconv.Itoa(i) + "]"
		if path != "" {
			p = path + "." + p
		}
		if a := fp.node(c, p, depth+1); a != nil {
			f.Args = append(f.Args, a)
		}
	}
	return f
}

func (fp *filterParser) leaf(m map[string]any, op string, val any, path string) *Filter {
	fp.leaves++
	if fp.leaves == MaxFilterLeaves+1 {
		fp.add("", "Too many conditions: at most "+strconv.Itoa(MaxFilterLeaves)+".")
	}
	col, hasCol := m["col"]
	prop, hasProp := m["prop"]
	var name any
	switch {
	case hasCol && hasProp:
		fp.add(path, "give col or prop, not both.")
		return nil
	case hasCol:
		name = col
	case hasProp:
		name = prop
	default:
		fp.add(path, "missing col (or prop).")
		return nil
	}
	s, ok := name.(string)
	if !ok {
		fp.add(path, msgBadColumn+quoteAny(name)+".")
		return nil
	}
	f := &Filter{Op: op}
	if !fp.resolve(f, s, hasCol, path) {
		return nil
	}
	if !fp.values(f, val, path) {
		return nil
	}
	return f
}

// resolve sets what f's name names, or reports why it names nothing.
func (fp *filterParser) resolve(f *Filter, name string, isCol bool, path string) bool {
	lower := strings.ToLower(strings.TrimSpace(name))
	switch lower {
	case "node_id", "node":
		f.Col = ColNode
		return true
	case ColSensor, ColDatetime:
		f.Col = lower
		return true
	}
	feat, prop, dotted := strings.Cut(strings.TrimSpace(name), ".")
	if fp.n == nil { // stored: as written
		if isCol || prop == "" && dotted || feat == "" {
			fp.add(path, msgBadColumn+strconv.Quote(name)+".")
			return false
		}
		if dotted {
			f.Feature, f.Property = feat, prop
		} else {
			f.Property = feat
		}
		return true
	}
	for _, ft := range fp.feats {
		if dotted && !strings.EqualFold(ft.Name, feat) {
			continue
		}
		want := feat
		if dotted {
			want = prop
		}
		if p, ok := ft.Property(want); ok {
			f.Property = p.Name
			if dotted {
				f.Feature = ft.Name
			}
			return true
		}
	}
	fp.add(path, msgBadColumn+strconv.Quote(name)+" (columns: node_id, sensor, datetime; properties: "+fp.propList()+").")
	return false
}

// propList names the properties a filter may compare, a few of them.
func (fp *filterParser) propList() string {
	var names []string
	for _, f := range fp.feats {
		for _, p := range f.Properties {
			names = append(names, f.Name+"."+p.Name)
		}
	}
	if len(names) > 12 {
		names = append(names[:12], "…")
	}
	return strings.Join(names, ", ")
}

func quoteAny(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}

// values coerces val to the type of f's column or property and checks it
// suits f's operator.
func (fp *filterParser) values(f *Filter, val any, path string) bool {
	switch f.Op {
	case FilterIs, FilterIsNot:
		if val != nil {
			fp.add(path, f.Op+" compares with null only: val must be null.")
			return false
		}
		return true
	case FilterLike, FilterILike:
		if f.Col != ColNode && f.Col != ColSensor {
			fp.add(path, f.Op+" applies to node_id and sensor only.")
			return false
		}
	}
	var items []any
	switch {
	case f.Op != FilterIn:
		items = []any{val}
	case isString(val):
		for _, s := range strings.Split(val.(string), ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	default:
		if l, ok := val.([]any); ok {
			items = l
		} else {
			items = []any{val}
		}
	}
	if len(items) == 0 {
		fp.add(path, "in takes at least one value: \"a,b\" or [a, b].")
		return false
	}
	fp.nvalues += len(items)
	if fp.nvalues > MaxFilterValues && fp.nvalues-len(items) <= MaxFilterValues {
		fp.add("", "Too many values: at most "+strconv.Itoa(MaxFilterValues)+" in all.")
	}
	ok := true
	for _, it := range items {
		v, msg := fp.coerce(f, it)
		if msg != "" {
			fp.add(path, msg)
			ok = false
			continue
		}
		f.Values = append(f.Values, v)
	}
	return ok
}

func isString(v any) bool { _, ok := v.(string); return ok }

// coerce turns one JSON value into the type f compares, or says why not.
func (fp *filterParser) coerce(f *Filter, v any) (any, string) {
	switch f.Col {
	case "":
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			s = strings.TrimSpace(x)
		default:
			return nil, msgBadNumber
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, msgBadNumber
		}
		return x, ""
	case ColDatetime:
		s, ok := v.(string)
		if !ok {
			return nil, MsgBadDatetime
		}
		t, err := ParseDatetime(s)
		if err != nil {
			return nil, MsgBadDatetime
		}
		if t.Nanosecond() != 0 {
			return nil, "Datetimes in a filter are whole seconds."
		}
		return t, ""
	}
	s, ok := v.(string)
	if !ok {
		return nil, msgBadString
	}
	if fp.n == nil || f.Op == FilterLike || f.Op == FilterILike {
		return s, ""
	}
	// A name compared for equality is a name of the network's, in its
	// spelling, as in the nodes and sensors parameters.
	if f.Col == ColNode {
		if x, ok := fp.n.Node(strings.TrimSpace(s)); ok {
			return x.ID, ""
		}
		return nil, msgBadNode + s
	}
	if x, ok := fp.n.Sensor(strings.TrimSpace(s)); ok {
		return x.Name, ""
	}
	return nil, msgBadSensor + s
}

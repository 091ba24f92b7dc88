package schema

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// MsgAtLeastZero is marshmallow's message for a negative limit or offset.
const MsgAtLeastZero = "Must be at least 0."

// rangeMsg is the message for an integer i outside [lo, hi]: below 0,
// marshmallow's, which Plenario's clients know; otherwise our bounds.
func rangeMsg(i, lo, hi int) string {
	if i < 0 && lo == 0 {
		return MsgAtLeastZero
	}
	return "Must be between " + strconv.Itoa(lo) + " and " + strconv.Itoa(hi) + "."
}

// aliases are the singular parameters Plenario's later API took for its
// plural lists, per endpoint: node=a is nodes=a. Given both, a list is
// both joined (node=a&nodes=b,c is nodes=a,b,c), as a repeated nodes is,
// and problems are reported under the plural.
var aliases = map[Endpoint]map[string]string{
	Download: {"node": "nodes", "sensor": "sensors", "feature": "features"},
	Raw:      {"node": "nodes", "sensor": "sensors"},
}

// withAliases returns args with singular parameters renamed to their
// plurals; args itself is left as it was.
func withAliases(ep Endpoint, args url.Values) url.Values {
	found := false
	for k := range aliases[ep] {
		if _, ok := args[k]; ok {
			found = true
		}
	}
	if !found {
		return args
	}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys) // node before nodes: the singular's names come first
	out := make(url.Values, len(args))
	for _, k := range keys {
		v := args[k]
		if plural, ok := aliases[ep][k]; ok {
			k = plural
		}
		out[k] = append(out[k], v...)
	}
	return out
}

// intArg reads the integer argument k, def when it is absent; a value that
// is not an integer or lies outside [lo, hi] is a problem of k.
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

// downloadPage reads /download's limit and offset, as Plenario's
// validator did (integers, at least 0, no maximum). limit is how many rows
// the export holds at most (limit=0: none), offset how many rows of the
// export's order are skipped first.
func downloadPage(p Problems, args url.Values) (limit int, limitSet bool, offset int) {
	read := func(k string) (int, bool) {
		v, ok := args[k]
		if !ok {
			return 0, false
		}
		i, err := strconv.Atoi(strings.TrimSpace(strings.Join(v, ",")))
		switch {
		case err != nil:
			p.Add(k, MsgBadInteger)
			return 0, false
		case i < 0:
			p.Add(k, MsgAtLeastZero)
			return 0, false
		}
		return i, true
	}
	limit, limitSet = read("limit")
	offset, _ = read("offset")
	return limit, limitSet, offset
}

// Capped reports whether a download's rows are capped by Limit (none when
// limit=0 was given).
func (q *Query) Capped() bool { return q.Limit > 0 || q.LimitSet }

// Paged reports whether a download is cut by limit or offset: then its
// parts export exact row ranges of its order.
func (q *Query) Paged() bool { return q.Capped() || q.Offset > 0 }

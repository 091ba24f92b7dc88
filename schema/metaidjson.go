package schema

import "encoding/json"

// UnmarshalJSON reads a JSON object of node ids to meta_ids as
// json.Unmarshal reads it into a map[string]uint32, merging into m.
// Every started event, every started job's record and every part task
// carries the meta_ids of the job's nodes (a hundred for the bench's
// network), and json.Unmarshal's reflection, a map assignment a node, was
// most of the cost of decoding them: the started events' and the records'
// json.Unmarshal were 24 % of the exporter process's CPU in the drain of
// make bench's load phase (2026-12-02 14:14). What appendMetaIDs and
// json.Marshal write (no spaces, plain ASCII ids, digits) is read here in
// one pass; anything else is left to json.Unmarshal, which decides as
// before.
func (m *MetaIDs) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = nil
		return nil
	}
	if scanMetaIDs(b, m) {
		return nil
	}
	return json.Unmarshal(b, (*map[string]uint32)(m))
}

// scanMetaIDs is UnmarshalJSON's fast path. It first checks that b is of
// the plain form throughout, and only then stores, so that on false m is
// as it was.
func scanMetaIDs(b []byte, m *MetaIDs) bool {
	n, ok := metaIDsPlain(b)
	if !ok {
		return false
	}
	if *m == nil {
		*m = make(MetaIDs, n)
	}
	text := string(b) // the ids are cut from one copy: an allocation, not one an id
	for i := 1; i < len(b)-1; {
		j := i + 1
		for b[j] != '"' {
			j++
		}
		key := text[i+1 : j]
		var v uint32
		for j += 2; b[j] >= '0' && b[j] <= '9'; j++ {
			v = v*10 + uint32(b[j]-'0')
		}
		(*m)[key] = v
		i = j + 1 // past the comma (or onto the closing brace)
	}
	return true
}

// metaIDsPlain reports whether b is an object of plain entries:
// "id":digits, comma-separated, nothing else, each id of printable ASCII
// without a quote or backslash, each number without a leading zero and
// within uint32; and how many entries it has.
func metaIDsPlain(b []byte) (int, bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return 0, false
	}
	if len(b) == 2 {
		return 0, true
	}
	n := 0
	for i := 1; ; {
		if b[i] != '"' {
			return 0, false
		}
		j := i + 1
		for ; j < len(b) && b[j] != '"'; j++ {
			if c := b[j]; c < 0x20 || c >= 0x80 || c == '\\' {
				return 0, false
			}
		}
		if j+2 >= len(b) || b[j+1] != ':' {
			return 0, false
		}
		k := j + 2
		var v uint64
		for ; k < len(b) && b[k] >= '0' && b[k] <= '9'; k++ {
			v = v*10 + uint64(b[k]-'0')
			if v > 1<<32-1 {
				return 0, false
			}
		}
		if d := k - (j + 2); d == 0 || d > 1 && b[j+2] == '0' {
			return 0, false
		}
		n++
		switch {
		case k == len(b)-1:
			return n, true
		case b[k] != ',':
			return 0, false
		}
		i = k + 1
	}
}

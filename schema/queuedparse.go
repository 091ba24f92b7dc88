package schema

import (
	"bytes"
	"time"
	"unicode/utf8"
)

// UnmarshalQueuedJSON reads into e a queued event as AppendQueuedJSON
// writes it, giving e what json.Unmarshal would give a zero Event, and
// reports false, leaving e as it was, for anything else: another kind,
// another key order, an escaped string, a geometry or a filter, spaces
// (the caller unmarshals those). Every accepted request is read so twice,
// by the planner and by the projector: json.Unmarshal of the queued event,
// the query's UnmarshalJSON unmarshalling again inside it, was 29 % of the
// exporter process's CPU in the ticket burst's profile.
func (e *Event) UnmarshalQueuedJSON(b []byte) bool {
	r := reader{b: b}
	var out Event
	req := &ExportRequest{}
	out.Request = req
	out.Kind = EventQueued
	ok := r.lit(`{"v":`) && r.int(&out.Version) && r.lit(`,"kind":"queued","ticket":`) && r.str(&out.Ticket) &&
		r.lit(`,"time":`) && r.time(&out.Time) && r.lit(`,"request":{"ticket":`) && r.str(&req.Ticket) &&
		r.lit(`,"query":`) && r.query(&req.Query) &&
		(!r.maybe(`,"client":`) || r.str(&req.Client)) &&
		r.lit(`,"datadump_urlroot":`) && r.str(&req.URLRoot) &&
		r.lit(`,"submitted_at":`) && r.time(&req.SubmittedAt) &&
		(!r.maybe(`,"expires_at":`) || r.time(&req.ExpiresAt)) &&
		(!r.maybe(`,"request_digest":`) || r.str(&req.Digest)) &&
		r.lit(`},"parts":0}`) && r.i == len(b)
	if ok {
		*e = out
	}
	return ok
}

// query reads what Query.MarshalJSON writes, as Query.UnmarshalJSON would,
// for a query without a geometry or a filter.
func (r *reader) query(q *Query) bool {
	var j queryJSON
	if !r.lit(`{"network":`) || !r.str(&j.Network) {
		return false
	}
	list := func(to **[]string) bool { *to = new([]string); return r.list(*to) }
	ok := (!r.maybe(`,"features":`) || list(&j.Features)) &&
		(!r.maybe(`,"nodes":`) || list(&j.Nodes)) &&
		(!r.maybe(`,"sensors":`) || list(&j.Sensors)) &&
		r.lit(`,"start_datetime":`) && r.str(&j.Start) && r.lit(`,"end_datetime":`) && r.str(&j.End) &&
		(!r.maybe(`,"data_type":`) || r.str(&j.DataType))
	if !ok {
		return false
	}
	if r.maybe(`,"limit":`) {
		j.Limit = new(int)
		if !r.int(j.Limit) {
			return false
		}
	}
	ok = (!r.maybe(`,"offset":`) || r.int(&j.Offset)) &&
		(!r.maybe(`,"filter_rows":true`) || set(&j.FilterRows)) &&
		(!r.maybe(`,"all_features":true`) || set(&j.AllFeatures)) &&
		(!r.maybe(`,"all_nodes":true`) || set(&j.AllNodes)) &&
		(!r.maybe(`,"all_sensors":true`) || set(&j.AllSensors)) &&
		r.lit(`}`)
	return ok && j.query(q) == nil
}

func set(b *bool) bool { *b = true; return true }

// reader reads JSON of one known layout, byte by byte; any other byte
// makes its methods report false.
type reader struct {
	b []byte
	i int
}

// lit reads s.
func (r *reader) lit(s string) bool {
	if len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		return false
	}
	r.i += len(s)
	return true
}

// maybe reads s if it comes next.
func (r *reader) maybe(s string) bool { return r.lit(s) }

// str reads a string without escapes or control characters, of valid
// UTF-8: the one form whose bytes json.Unmarshal keeps as they are.
func (r *reader) str(s *string) bool {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return false
	}
	from, ascii := r.i+1, true
	for j := from; j < len(r.b); j++ {
		switch c := r.b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(r.b[from:j]) {
				return false // json.Unmarshal replaces what is not UTF-8
			}
			*s = string(r.b[from:j])
			r.i = j + 1
			return true
		case c < 0x20 || c == '\\':
			return false
		case c >= 0x80:
			ascii = false
		}
	}
	return false
}

// list reads an array of such strings, [] as an empty, non-nil slice.
func (r *reader) list(s *[]string) bool {
	if !r.lit(`[`) {
		return false
	}
	out := []string{}
	if r.maybe(`]`) {
		*s = out
		return true
	}
	for {
		var v string
		if !r.str(&v) {
			return false
		}
		out = append(out, v)
		if r.maybe(`]`) {
			*s = out
			return true
		}
		if !r.lit(`,`) {
			return false
		}
	}
}

// int reads an integer as JSON writes one: an optional minus, then 0 or
// digits not starting with 0, at most 18 of them (no overflow).
func (r *reader) int(n *int) bool {
	j, neg := r.i, false
	if j < len(r.b) && r.b[j] == '-' {
		j, neg = j+1, true
	}
	from, v := j, 0
	for j < len(r.b) && r.b[j] >= '0' && r.b[j] <= '9' && j-from < 18 {
		v = v*10 + int(r.b[j]-'0')
		j++
	}
	if j == from || (r.b[from] == '0' && j-from > 1) || (j < len(r.b) && r.b[j] >= '0' && r.b[j] <= '9') {
		return false
	}
	if neg {
		v = -v
	}
	*n, r.i = v, j
	return true
}

// time reads a quoted time by time.Time's own UnmarshalJSON.
func (r *reader) time(t *time.Time) bool {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return false
	}
	end := bytes.IndexByte(r.b[r.i+1:], '"')
	if end < 0 {
		return false
	}
	end += r.i + 2
	if bytes.IndexByte(r.b[r.i:end], '\\') >= 0 || t.UnmarshalJSON(r.b[r.i:end]) != nil {
		return false
	}
	r.i = end
	return true
}

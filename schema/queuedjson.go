package schema

import (
	"strconv"
	"time"
)

// AppendQueuedJSON appends e, a queued event, as json.Marshal writes it,
// and reports false, appending nothing, for any other event and for a
// query with a geometry (json.Marshal compacts the client's GeoJSON, which
// this does not). Every accepted request is one: json.Marshal spent a
// tenth of the gateway's CPU in the ticket burst's profile on it, most of
// it validating and compacting the query that Query.MarshalJSON had
// already written compact.
func (e *Event) AppendQueuedJSON(b []byte) ([]byte, bool) {
	r := e.Request
	if e.Kind != EventQueued || r == nil || e.Seq != 0 || e.Plan != nil || e.Worker != "" || e.Parts != 0 ||
		e.Part != 0 || e.Rows != 0 || e.Bytes != 0 || e.Estimate != 0 || len(e.MetaIDs) != 0 || e.URL != "" ||
		e.Error != "" || len(r.Query.Geom) > 0 || !jsonTime(e.Time) || !jsonTime(r.SubmittedAt) ||
		(!r.ExpiresAt.IsZero() && !jsonTime(r.ExpiresAt)) {
		return b, false
	}
	q, err := r.Query.MarshalJSON()
	if err != nil {
		return b, false
	}
	b = strconv.AppendInt(append(b, `{"v":`...), int64(e.Version), 10)
	b = append(b, `,"kind":"queued","ticket":`...)
	b = AppendJSONText(b, e.Ticket)
	b = appendTime(append(b, `,"time":`...), e.Time)
	b = append(b, `,"request":{"ticket":`...)
	b = AppendJSONText(b, r.Ticket)
	b = append(append(b, `,"query":`...), q...)
	if r.Client != "" {
		b = AppendJSONText(append(b, `,"client":`...), r.Client)
	}
	b = AppendJSONText(append(b, `,"datadump_urlroot":`...), r.URLRoot)
	b = appendTime(append(b, `,"submitted_at":`...), r.SubmittedAt)
	if !r.ExpiresAt.IsZero() {
		b = appendTime(append(b, `,"expires_at":`...), r.ExpiresAt)
	}
	if r.Digest != "" {
		b = AppendJSONText(append(b, `,"request_digest":`...), r.Digest)
	}
	return append(b, `},"parts":0}`...), true
}

// jsonTime reports whether time.Time's MarshalJSON writes t as
// RFC3339Nano does: a four-digit year and an offset of whole minutes.
func jsonTime(t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	_, off := t.Zone()
	return off%60 == 0 && off > -24*3600 && off < 24*3600
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	return append(t.AppendFormat(b, time.RFC3339Nano), '"')
}

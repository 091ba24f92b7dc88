package schema

import (
	"encoding/json"
	"slices"
	"strconv"
)

// MarshalRecord returns r as json.Marshal writes it. A record without a
// plan, parts done, running parts, extra fields or a rate, the record of
// every job of an empty window from queued to success, is written by hand
// (appendRecord); the rest by json.Marshal. The projector writes a record
// for every event: json.Marshal of it, validating and compacting the
// query Query.MarshalJSON had written compact and sorting the meta_ids
// of a network's hundred nodes by reflection, was 13 % of the exporter
// process's CPU in the ticket burst's profile.
func MarshalRecord(r *JobRecord) ([]byte, error) {
	if b, ok := appendRecord(make([]byte, 0, 1024), r); ok {
		return b, nil
	}
	return json.Marshal(r)
}

func appendRecord(b []byte, r *JobRecord) ([]byte, bool) {
	j, st, m := &r.Job, &r.Job.Status, &r.Job.Status.Meta
	if len(r.Plan) > 0 || len(r.PartsDone) > 0 || len(r.Running) > 0 || r.Extra != nil ||
		(st.Progress != nil && st.Progress.Rate != 0) || len(j.Request.Query.Geom) > 0 || j.Request.Query.Filter != nil ||
		!jsonTime(r.Created) || !jsonTime(r.Started) || !jsonTime(r.Finished) {
		return b, false
	}
	var res *JobResult
	switch v := j.Result.(type) {
	case string:
		if v != "" {
			return b, false
		}
	case JobResult:
		res = &v
	default:
		return b, false
	}
	q, err := j.Request.Query.MarshalJSON()
	if err != nil {
		return b, false
	}
	b = AppendJSONText(append(b, `{"job":{"ticket":`...), j.Ticket)
	b = AppendJSONText(append(b, `,"request":{"endpoint":`...), j.Request.Endpoint)
	b = append(append(append(b, `,"query":`...), q...), '}')
	b = AppendJSONText(append(b, `,"status":{"status":`...), st.Status)
	b = AppendJSONText(append(b, `,"meta":{"queueTime":`...), m.QueueTime)
	b = appendOmitted(b, `,"startTime":`, m.StartTime)
	b = appendOmitted(b, `,"endTime":`, m.EndTime)
	if len(m.Workers) > 0 {
		b = append(b, `,"workers":[`...)
		for i, w := range m.Workers {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONText(b, w)
		}
		b = append(b, ']')
	}
	b = append(appendOmitted(b, `,"expiresAt":`, m.ExpiresAt), '}')
	if p := st.Progress; p != nil {
		b = strconv.AppendInt(append(b, `,"progress":{"done":`...), int64(p.Done), 10)
		b = strconv.AppendInt(append(b, `,"total":`...), int64(p.Total), 10)
		b = strconv.AppendInt(append(b, `,"rows":`...), p.Rows, 10)
		b = append(strconv.AppendInt(append(b, `,"estimate":`...), p.Estimate, 10), '}')
	}
	b = append(b, `},"result":`...)
	if res == nil {
		b = append(b, `""`...)
	} else {
		b = appendResult(b, res)
	}
	b = append(appendOmitted(b, `,"url":`, j.URL), '}')
	b = strconv.AppendUint(append(b, `,"seq":`...), r.Seq, 10)
	b = AppendJSONText(append(b, `,"client":`...), r.Client)
	b = AppendJSONText(append(b, `,"urlroot":`...), r.URLRoot)
	b = appendTime(append(b, `,"created":`...), r.Created)
	if !r.Started.IsZero() {
		b = appendTime(append(b, `,"started":`...), r.Started)
	}
	if !r.Finished.IsZero() {
		b = appendTime(append(b, `,"finished":`...), r.Finished)
	}
	if len(r.MetaIDs) > 0 {
		b = appendMetaIDs(append(b, `,"meta_ids":`...), r.MetaIDs)
	}
	b = strconv.AppendInt(append(b, `,"done_rows":`...), r.DoneRows, 10)
	b = strconv.AppendInt(append(b, `,"done_bytes":`...), r.DoneBytes, 10)
	return append(b, '}'), true
}

// appendOmitted appends key and s, or nothing for "" (omitempty).
func appendOmitted(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return AppendJSONText(append(b, key...), s)
}

func appendResult(b []byte, r *JobResult) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendOmitted(b, `,"url":`, r.URL)
	b = appendOmitted(b, `,"error":`, r.Error)
	if r.Rows != 0 {
		b = strconv.AppendInt(append(b, `,"rows":`...), r.Rows, 10)
	}
	if r.Bytes != 0 {
		b = strconv.AppendInt(append(b, `,"bytes":`...), r.Bytes, 10)
	}
	if r.Parts != 0 {
		b = strconv.AppendInt(append(b, `,"parts":`...), int64(r.Parts), 10)
	}
	if len(b) > n {
		b = append(b[:n], b[n+1:]...) // the first field's comma
	}
	return append(b, '}')
}

// appendMetaIDs appends ids as json.Marshal writes a map: keys sorted.
func appendMetaIDs(b []byte, ids MetaIDs) []byte {
	keys := make([]string, 0, len(ids))
	for k := range ids {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(append(AppendJSONText(b, k), ':'), uint64(ids[k]), 10)
	}
	return append(b, '}')
}

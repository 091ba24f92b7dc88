package schema

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// queryJSON is the resolved query as echoed in a ticket document.
type queryJSON struct {
	Network     string          `json:"network"`
	Features    *[]string       `json:"features,omitempty"` // nil: left out by Compact
	Nodes       *[]string       `json:"nodes,omitempty"`
	Sensors     *[]string       `json:"sensors,omitempty"`
	Geom        json.RawMessage `json:"geom,omitempty"`
	Start       string          `json:"start_datetime"`
	End         string          `json:"end_datetime"`
	DataType    string          `json:"data_type,omitempty"`
	Limit       *int            `json:"limit,omitempty"` // present: LimitSet
	Offset      int             `json:"offset,omitempty"`
	Filter      *Filter         `json:"filter,omitempty"`
	FilterRows  bool            `json:"filter_rows,omitempty"`
	AllFeatures bool            `json:"all_features,omitempty"`
	AllNodes    bool            `json:"all_nodes,omitempty"`
	AllSensors  bool            `json:"all_sensors,omitempty"`
}

// MarshalJSON writes the query as Plenario echoed it, lists explicit, but
// for the lists Compact left out: queryJSON's fields, in its order. It is
// written by hand because every accepted request is encoded twice on the
// way in (its event and the answer), a list of a network's nodes each time.
func (q Query) MarshalJSON() ([]byte, error) {
	b, err := q.appendJSON(make([]byte, 0, 192+len(q.Geom)+24*(len(q.Nodes)+len(q.Sensors)+len(q.Features))), nil)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// ListsJSON is what Query.MarshalJSON writes of the lists of a query of all
// a network's features, nodes or sensors: each list in full. An accepted
// request of all of them (most are, the bench's too) is answered with the
// lists, and writing a network's hundred nodes again for every answer was
// 6 % of the gateway's CPU in a burst of tickets (make bench's load
// phase, 2026-12-02 14:14); Network.ListsJSON makes them once.
type ListsJSON struct {
	features, nodes, sensors []byte
}

// ListsJSON returns n's lists as Query.MarshalJSON writes them in the
// query of all of them: the same bytes, for Job.AppendQueuedJSONWith. A
// caller keeps it for as long as it keeps n.
func (n *Network) ListsJSON() *ListsJSON {
	return &ListsJSON{features: appendFeatures(nil, n.allFeatures()),
		nodes: appendList(nil, `,"nodes":[`, n.nodeIDs(), false), sensors: appendList(nil, `,"sensors":[`, n.sensorNames(), false)}
}

// appendJSON appends what MarshalJSON writes of q, or, with lists (of q's
// network), what it writes of q expanded: a list that Compact left out is
// written from lists. On an error (a filter JSON cannot hold) b is part
// written.
func (q Query) appendJSON(b []byte, lists *ListsJSON) ([]byte, error) {
	b = append(b, `{"network":`...)
	b = AppendJSONText(b, q.Network)
	switch {
	case lists != nil && q.AllFeatures && q.Features == nil:
		b = append(b, lists.features...)
	case q.Features != nil || !q.AllFeatures:
		b = appendFeatures(b, q.Features)
	}
	if lists != nil && q.AllNodes && q.Nodes == nil {
		b = append(b, lists.nodes...)
	} else {
		b = appendList(b, `,"nodes":[`, q.Nodes, q.AllNodes)
	}
	if lists != nil && q.AllSensors && q.Sensors == nil {
		b = append(b, lists.sensors...)
	} else {
		b = appendList(b, `,"sensors":[`, q.Sensors, q.AllSensors)
	}
	if len(q.Geom) > 0 {
		b = append(b, `,"geom":`...)
		b = append(b, q.Geom...)
	}
	b = append(b, `,"start_datetime":"`...)
	b = q.Start.UTC().AppendFormat(b, DatetimeLayout)
	b = append(b, `","end_datetime":"`...)
	b = q.End.UTC().AppendFormat(b, DatetimeLayout)
	b = append(b, '"')
	if q.DataType != "" {
		b = append(b, `,"data_type":`...)
		b = AppendJSONText(b, q.DataType)
	}
	if q.Limit != 0 || q.LimitSet {
		b = strconv.AppendInt(append(b, `,"limit":`...), int64(q.Limit), 10)
	}
	if q.Offset != 0 {
		b = strconv.AppendInt(append(b, `,"offset":`...), int64(q.Offset), 10)
	}
	if q.Filter != nil {
		f, err := json.Marshal(q.Filter)
		if err != nil {
			return b, err
		}
		b = append(append(b, `,"filter":`...), f...)
	}
	if q.FilterRows {
		b = append(b, `,"filter_rows":true`...)
	}
	if q.AllFeatures {
		b = append(b, `,"all_features":true`...)
	}
	if q.AllNodes {
		b = append(b, `,"all_nodes":true`...)
	}
	if q.AllSensors {
		b = append(b, `,"all_sensors":true`...)
	}
	return append(b, '}'), nil
}

// appendFeatures appends a query's list of features.
func appendFeatures(b []byte, fs []FeatureSel) []byte {
	b = append(b, `,"features":[`...)
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONText(b, f.String())
	}
	return append(b, ']')
}

// appendList appends a list of a query: absent only when left out of a
// query of all.
func appendList(b []byte, key string, s []string, all bool) []byte {
	if s == nil && all {
		return b
	}
	b = append(b, key...)
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONText(b, v)
	}
	return append(b, ']')
}

// AppendJSONText appends s as a JSON string the way encoding/json writes it:
// names and IDs are plain ASCII, and anything else takes encoding/json's
// own path (HTML-safe escapes, invalid UTF-8 replaced).
func AppendJSONText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (q *Query) UnmarshalJSON(b []byte) error {
	var j queryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	return j.query(q)
}

// query makes q of what was read into j (by json.Unmarshal, or by hand:
// queuedparse.go).
func (j *queryJSON) query(q *Query) error {
	*q = Query{Network: j.Network, Geom: j.Geom, Offset: j.Offset, Filter: j.Filter, FilterRows: j.FilterRows,
		AllFeatures: j.AllFeatures, AllNodes: j.AllNodes, AllSensors: j.AllSensors, DataType: j.DataType}
	if j.Limit != nil {
		q.Limit, q.LimitSet = *j.Limit, *j.Limit == 0
	}
	if j.Nodes != nil {
		q.Nodes = *j.Nodes
	}
	if j.Sensors != nil {
		q.Sensors = *j.Sensors
	}
	if j.Features != nil {
		q.Features = make([]FeatureSel, 0, len(*j.Features))
		for _, f := range *j.Features {
			name, prop, _ := strings.Cut(f, ".")
			q.Features = append(q.Features, FeatureSel{Feature: name, Property: prop})
		}
	}
	var err error
	if q.Start, err = time.Parse(DatetimeLayout, j.Start); err != nil {
		return err
	}
	q.End, err = time.Parse(DatetimeLayout, j.End)
	return err
}

package result

import (
	"strconv"

	"github.com/plenario-next/exportd/schema"
)

// A JSON download made of stored fragments (JSONEncoder) is JSONHead, the
// fragments one after the other less their first byte (the comma before
// the first observation), and JSONTail. Any of them may be empty: with no
// rows at all it is "[]\n".
const (
	JSONHead = "["
	JSONTail = "]\n"
)

// JSONEncoder renders rows as a stored JSON fragment: every observation
// preceded by ",\n". Rows come in the export's order, so the rows of one
// reading (node, datetime, sensor, feature) are consecutive, sorted by
// property, and a part, a time slice, holds its readings whole; a
// property that repeats starts another observation (see readings.go), so
// fragments stitched across parts never repeat a key either. Stitched as
// JSONHead says, the fragments of a job's parts are byte for byte what a
// JSONWriter makes of the parts' CSV, so a JSON download can be sent as
// stored, with a length and ranges, instead of made on the fly.
type JSONEncoder struct {
	// MetaIDs gives each observation its node's meta_id (0 if absent): a
	// look-up when the node or second changes, not per row.
	MetaIDs schema.MetaIDs

	csv  CSVEncoder // the datetime text, as the CSV has it
	open bool
	ts   int64
	node string
	// head is {"node":…,"meta_id":…,"datetime":… of node and ts
	// (appendHead); sf holds the output of the last few sensor and
	// feature pairs, as in a JSONWriter.
	head   []byte
	sf     [8]sfPiece
	sfNext int
	sfCur  *sfPiece
	// props of the open observation: a repeat starts another. The rows'
	// own strings, not copies (strings do not change): a header each.
	props []string
}

// AppendRow appends r to the fragment b.
func (e *JSONEncoder) AppendRow(b []byte, r *schema.Row) []byte {
	var v [32]byte
	return e.AppendRowValue(b, r, AppendValue(v[:0], r.Value))
}

// AppendRowValue appends r to the fragment b, with value as its value:
// r.Value as AppendValue spells it, the last field of r's CSV line, so a
// value rendered for the CSV is not rendered again.
func (e *JSONEncoder) AppendRowValue(b []byte, r *schema.Row, value []byte) []byte {
	ts := r.TS.Unix()
	if !e.open || ts != e.ts || r.Node != e.node || r.Sensor != string(e.sfCur.sensor) || r.Feature != string(e.sfCur.feature) ||
		e.repeats(r.Property) {
		if e.open {
			b = append(b, "}}"...)
		}
		b = append(b, ",\n"...)
		if !e.open || ts != e.ts || r.Node != e.node {
			e.ts, e.node = ts, r.Node
			e.head = appendHead(e.head[:0], r.Node, e.MetaIDs[r.Node], e.csv.datetime(r.TS))
		}
		e.open = true
		b = append(b, e.head...)
		e.sfCur = e.piece(r.Sensor, r.Feature)
		b = append(b, e.sfCur.out...)
		e.props = e.props[:0]
	} else {
		b = append(b, ',')
	}
	e.props = append(e.props, r.Property)
	b = appendJSONString(b, r.Property)
	b = append(b, ':')
	if len(value) == 0 {
		return append(b, "null"...)
	}
	return append(b, value...)
}

// repeats reports whether the open observation has property p. Rows come
// sorted by property, so the last one is asked first.
func (e *JSONEncoder) repeats(p string) bool {
	for i := len(e.props) - 1; i >= 0; i-- {
		if e.props[i] == p {
			return true
		}
	}
	return false
}

// Close appends the end of the last observation to b.
func (e *JSONEncoder) Close(b []byte) []byte {
	if e.open {
		e.open = false
		b = append(b, "}}"...)
	}
	return b
}

// piece is the sensor and feature pair's output, rendered once for the
// last few pairs.
func (e *JSONEncoder) piece(sensor, feature string) *sfPiece {
	for i := range e.sf {
		if p := &e.sf[i]; len(p.out) > 0 && string(p.sensor) == sensor && string(p.feature) == feature {
			return p
		}
	}
	p := &e.sf[e.sfNext]
	e.sfNext = (e.sfNext + 1) % len(e.sf)
	p.sensor, p.feature = append(p.sensor[:0], sensor...), append(p.feature[:0], feature...)
	p.out = renderSF(p.out[:0], p.sensor, p.feature)
	return p
}

// appendHead appends the start of an observation to b:
// {"node":…,"meta_id":…,"datetime":…, Plenario's order.
func appendHead[T ~[]byte | ~string](b []byte, node T, metaID uint32, datetime []byte) []byte {
	b = append(b, `{"node":`...)
	b = appendJSONString(b, node)
	b = append(b, `,"meta_id":`...)
	b = strconv.AppendUint(b, uint64(metaID), 10)
	b = append(b, `,"datetime":`...)
	return appendJSONString(b, datetime)
}

// renderSF appends ,"sensor":…,"feature":…,"results":{ to b.
func renderSF[T ~[]byte | ~string](b []byte, sensor, feature T) []byte {
	b = append(b, `,"sensor":`...)
	b = appendJSONString(b, sensor)
	b = append(b, `,"feature":`...)
	b = appendJSONString(b, feature)
	return append(b, `,"results":{`...)
}

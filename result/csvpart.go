package result

import (
	"github.com/plenario-next/exportd/schema"
)

// PartEncoder encodes a part's rows as its stored CSV, byte for byte what
// CSVEncoder writes, and counts the JSON fragment a Renderer makes of it,
// as JSONCounter does, from pieces made once: a row's "node,datetime" once
// for its node and second, its ",sensor,feature,property," once for the
// triple (with the triple's JSON lengths, which JSONCounter keeps anyway),
// so that most rows are two copies, the value and a few comparisons of
// interned strings. Encoding and counting a row on its own (CSVEncoder,
// then JSONCounter.AddRow) tested each name for quoting and scanned the
// line again for its value: BenchmarkPartEncoders, apart 144-195 CPU ns a
// row against fused 68-102 (side by side, load average 12).
type PartEncoder struct {
	count JSONCounter
	csv   CSVEncoder // its datetime, once a second
	// head is "node,datetime" of node and the Unix second sec
	node    string
	sec     int64
	head    []byte
	scratch []byte
}

// NewPartEncoder is a PartEncoder whose JSON gives each node the meta_id
// ids has for it (JSONCounter.MetaIDs).
func NewPartEncoder(ids schema.MetaIDs) *PartEncoder {
	return &PartEncoder{count: JSONCounter{MetaIDs: ids}}
}

// AppendRow appends r as one CSV line to b and counts its JSON.
func (e *PartEncoder) AppendRow(b []byte, r *schema.Row) []byte {
	sec := r.TS.Unix()
	headKept := sec == e.sec && same(r.Node, e.node) && e.head != nil
	if !headKept {
		e.node, e.sec = r.Node, sec
		e.head = appendCSVField(e.head[:0], r.Node)
		e.head = append(e.head, ',')
		e.head = append(e.head, e.csv.datetime(r.TS)...)
	}
	b = append(b, e.head...)
	n := e.count.names.get(r.Sensor, r.Feature, r.Property, &e.scratch)
	b = append(b, n.csv...)
	at := len(b)
	b = AppendValue(b, r.Value)
	v := len(b) - at
	if v == 0 {
		v = jsonFrame.null
	}
	// The open observation is the row before's: it goes on with r when
	// the two share node, second, sensor and feature, known already.
	c := &e.count
	c.count(r, sec, n, v, c.open && headKept && c.names.pairKept && !c.hasProp(r.Property))
	return append(b, '\n')
}

// Close ends the part's JSON, as JSONCounter.Close.
func (e *PartEncoder) Close() { e.count.Close() }

// JSONBytes is the length of the JSON fragment of the rows so far.
func (e *PartEncoder) JSONBytes() int64 { return e.count.Bytes() }

// Observations is how many observations the rows so far began.
func (e *PartEncoder) Observations() int64 { return e.count.Observations() }

// appendTripleCSV appends ",sensor,feature,property," as CSVEncoder
// writes the three fields between a row's datetime and its value.
func appendTripleCSV(b []byte, sensor, feature, prop string) []byte {
	b = append(b, ',')
	b = appendCSVField(b, sensor)
	b = append(b, ',')
	b = appendCSVField(b, feature)
	b = append(b, ',')
	b = appendCSVField(b, prop)
	return append(b, ',')
}

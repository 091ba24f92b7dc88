package result

import (
	"strconv"
	"time"
	"unsafe"

	"github.com/plenario-next/exportd/schema"
)

// JSONCounter counts the bytes and the observations of the JSON fragment a
// Renderer makes of a part's stored CSV, from the rows the CSV is encoded
// from, without rendering it: the exporter records the count so that a
// JSON download, rendered as it is sent, still has a length and byte
// ranges. Rendering every line only to measure it was a quarter of the
// exporter's CPU.
//
// It cannot drift from the Renderer on what an observation looks like: the
// bytes around the fields (frame, keys, punctuation, "}}", null) are
// measured on a Renderer once (jsonFrame), and each name's escaped length
// is that of the Renderer's own appendJSONString, kept for the names seen
// (rowNames). What it decides itself is only where observations begin, by the
// rule of schema/readings.go the Renderer follows: at a new node,
// datetime, sensor or feature, or at a property the open observation has.
// FuzzJSONCounter holds the two equal.
type JSONCounter struct {
	// MetaIDs gives each observation its node's meta_id, as the
	// Renderer's MetaIDs.
	MetaIDs schema.MetaIDs

	bytes, obs int64
	open       bool
	// the key of the open observation; sec is its datetime's Unix second
	// (the datetime is written to the second: one text per second)
	node, sensor, feature string
	sec                   int64
	props                 []string // of the open observation
	// dtLen is the escaped length of the datetimes of the UTC day
	// [dtFrom, dtTo): the layout's fields but the year have a fixed width.
	dtFrom, dtTo int64
	dtLen        int
	names        rowNames
	nodes        nodeNames
	scratch      []byte
}

// AddRow counts r, encoded as the stored line line (without its line
// break; its value, the last field, as the Renderer reads it).
func (c *JSONCounter) AddRow(r *schema.Row, line []byte) {
	v := len(line) - lastComma(line) - 1
	if v == 0 {
		v = jsonFrame.null
	}
	c.add(r, r.TS.Unix(), c.names.get(r.Sensor, r.Feature, r.Property, &c.scratch), v)
}

// add counts r, whose Unix second is sec, whose names' lengths are e's
// and whose value is v bytes in the JSON.
func (c *JSONCounter) add(r *schema.Row, sec int64, e *nameLen, v int) {
	c.count(r, sec, e, v, c.open && sec == c.sec && same(r.Node, c.node) && same(r.Sensor, c.sensor) &&
		same(r.Feature, c.feature) && !c.hasProp(r.Property))
}

// count is add once it is known whether r goes on the open observation
// (more): the one before it has its node, second, sensor and feature,
// and not its property.
func (c *JSONCounter) count(r *schema.Row, sec int64, e *nameLen, v int, more bool) {
	if more {
		c.props = append(c.props, r.Property)
		c.bytes += int64(jsonFrame.more + e.propLen + v)
		return
	}
	if c.open {
		c.bytes += int64(jsonFrame.close)
	}
	c.open, c.obs = true, c.obs+1
	c.node, c.sensor, c.feature, c.sec = r.Node, r.Sensor, r.Feature, sec
	c.props = append(c.props[:0], r.Property)
	nodeLen := c.nodes.get(r.Node, c.MetaIDs, &c.scratch)
	if sec < c.dtFrom || sec >= c.dtTo || c.dtLen == 0 {
		c.dtLen = c.datetimeLen(r.TS)
		c.dtFrom = sec - (sec%86400+86400)%86400
		c.dtTo = c.dtFrom + 86400
	}
	c.bytes += int64(jsonFrame.begin + nodeLen + c.dtLen + e.sf + e.propLen + v)
}

// datetimeLen is the escaped length of ts as CSVEncoder writes it.
func (c *JSONCounter) datetimeLen(ts time.Time) int {
	dt := ts.UTC().AppendFormat(c.scratch[:0], schema.DatetimeLayout)
	c.scratch = appendJSONString(dt[len(dt):], dt)
	return len(c.scratch)
}

func (c *JSONCounter) hasProp(p string) bool {
	for i := len(c.props) - 1; i >= 0; i-- {
		if same(c.props[i], p) {
			return true
		}
	}
	return false
}

// Close ends the open observation, as Renderer.Close does.
func (c *JSONCounter) Close() {
	if c.open {
		c.bytes += int64(jsonFrame.close)
		c.open = false
	}
}

// Bytes is the length of the fragment counted so far.
func (c *JSONCounter) Bytes() int64 { return c.bytes }

// Observations is how many observations have begun.
func (c *JSONCounter) Observations() int64 { return c.obs }

// same is a == b, without a call for the interned strings chstore gives
// (one pointer, one length) or strings of different lengths.
func same(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

func lastComma(line []byte) int {
	for i := len(line) - 1; i >= 0; i-- {
		if line[i] == ',' {
			return i
		}
	}
	return -1
}

// maxRowNames bounds the sensor, feature and property triples rowNames
// keeps, and the nodes nodeNames keeps; past it, each begins again.
const maxRowNames = 4096

// rowNames keeps the escaped lengths (appendJSONString's, quotes included)
// of the sensor, feature and property triples seen. A node's rows come in
// the same order every second, so each triple remembers the one that came
// after it last time, and that is asked first: most rows are found with
// three comparisons of interned strings, which stop at their shared
// pointer; the rest by a map. pairKept says whether the triple last got
// has the sensor and feature of the one got before it, which a triple
// remembers of the one after it (nextSamePair), for PartEncoder.
type rowNames struct {
	list     []nameLen
	index    map[[3]string]int32
	last     int32
	pairKept bool
}

// nameLen is a triple's lengths: sf of its sensor and feature, propLen of
// its property; csv is the triple as a CSV line has it between datetime
// and value (appendTripleCSV), for PartEncoder; next is the triple that
// followed it last.
type nameLen struct {
	sensor, feature, prop string
	sf, propLen           int
	csv                   []byte
	next                  int32 // at first the triple itself
	nextSamePair          bool  // next has sensor and feature
}

// get returns the triple's entry, valid until the next get.
func (n *rowNames) get(sensor, feature, prop string, scratch *[]byte) *nameLen {
	kept := false
	if len(n.list) > 0 {
		p := &n.list[n.last]
		if e := &n.list[p.next]; same(e.prop, prop) && same(e.sensor, sensor) && same(e.feature, feature) {
			n.last, n.pairKept = p.next, p.nextSamePair
			return e
		}
		kept = same(p.sensor, sensor) && same(p.feature, feature)
	}
	key := [3]string{sensor, feature, prop}
	i, ok := n.index[key]
	if !ok {
		if len(n.list) >= maxRowNames || n.index == nil {
			n.list, n.index, n.last = n.list[:0], make(map[[3]string]int32), 0
		}
		e := nameLen{sensor: sensor, feature: feature, prop: prop}
		*scratch = appendJSONString((*scratch)[:0], sensor)
		e.sf = len(*scratch)
		*scratch = appendJSONString((*scratch)[:0], feature)
		e.sf += len(*scratch)
		*scratch = appendJSONString((*scratch)[:0], prop)
		e.propLen = len(*scratch)
		e.csv = appendTripleCSV(nil, sensor, feature, prop)
		i = int32(len(n.list))
		e.next, e.nextSamePair = i, true
		n.list = append(n.list, e)
		n.index[key] = i
	}
	p := &n.list[n.last] // after a reset, the new triple
	p.next, p.nextSamePair = i, same(p.sensor, sensor) && same(p.feature, feature)
	n.last, n.pairKept = i, kept
	return &n.list[i]
}

// nodeNames keeps the escaped length of each node seen and its meta_id's
// digits, as rowNames keeps a row's other names: the nodes of a part come
// in the same order every second too, each for a few observations in a
// row (so the last node is asked first, and is not its own successor).
type nodeNames struct {
	list  []nodeLen
	index map[string]int32
	last  int32
}

type nodeLen struct {
	node string
	n    int
	next int32
}

func (n *nodeNames) get(node string, ids schema.MetaIDs, scratch *[]byte) int {
	if len(n.list) > 0 {
		if e := &n.list[n.last]; same(e.node, node) { // a node's next reading
			return e.n
		}
		i := n.list[n.last].next
		if e := &n.list[i]; same(e.node, node) {
			n.last = i
			return e.n
		}
	}
	i, ok := n.index[node]
	if !ok {
		if len(n.list) >= maxRowNames || n.index == nil {
			n.list, n.index, n.last = n.list[:0], make(map[string]int32), 0
		}
		*scratch = appendJSONString((*scratch)[:0], node)
		l := len(*scratch)
		*scratch = strconv.AppendUint((*scratch)[:0], uint64(ids[node]), 10)
		i = int32(len(n.list))
		n.list = append(n.list, nodeLen{node: node, n: l + len(*scratch)})
		n.index[node] = i
	}
	n.list[n.last].next = i
	n.last = i
	return n.list[i].n
}

// jsonFrame is the bytes a Renderer writes around a row's fields, measured
// on a Renderer: an observation's beyond its names (unquoted, escaped),
// meta_id digits and value; a further property's beyond its name and
// value; the close of an observation; a missing value's null.
var jsonFrame = measureFrame()

type frame struct{ begin, more, close, null int }

// measureFrame renders a two-property observation of one-byte names and
// values and subtracts the names' and values' bytes. (Each name is 3 bytes
// quoted, the meta_id 0 is 1.)
func measureFrame() frame {
	var r Renderer
	first, err := r.AppendLine(nil, []byte("n,t,s,f,p,1"))
	if err != nil {
		panic(err)
	}
	second, err := r.AppendLine(nil, []byte("n,t,s,f,q,2"))
	if err != nil {
		panic(err)
	}
	var e Renderer
	empty, err := e.AppendLine(nil, []byte("n,t,s,f,p,"))
	if err != nil {
		panic(err)
	}
	return frame{
		begin: len(first) - 5*3 - 1 - 1,
		more:  len(second) - 3 - 1,
		close: len(r.Close(nil)),
		null:  len(empty) - (len(first) - 1),
	}
}

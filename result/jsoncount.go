package result

import (
	"strconv"
	"time"

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
// last. What it decides itself is only where observations begin, by the
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
	// headNode and headSec are what head, the length of the observation's
	// node, meta_id and datetime, was measured for.
	headNode string
	headSec  int64
	head     int
	names    nameLens
	scratch  []byte
	dt       []byte
}

// AddRow counts r, encoded as the stored line line (without its line
// break; its value, the last field, as the Renderer reads it).
func (c *JSONCounter) AddRow(r *schema.Row, line []byte) {
	v := len(line) - lastComma(line) - 1
	if v == 0 {
		v = jsonFrame.null
	}
	sec := r.TS.Unix()
	if c.open && sec == c.sec && r.Node == c.node && r.Sensor == c.sensor && r.Feature == c.feature && !c.hasProp(r.Property) {
		c.props = append(c.props, r.Property)
		c.bytes += int64(jsonFrame.more + c.names.len(r.Property, &c.scratch) + v)
		return
	}
	if c.open {
		c.bytes += int64(jsonFrame.close)
	}
	c.open, c.obs = true, c.obs+1
	c.node, c.sensor, c.feature, c.sec = r.Node, r.Sensor, r.Feature, sec
	c.props = append(c.props[:0], r.Property)
	if c.head == 0 || r.Node != c.headNode || sec != c.headSec {
		c.head = c.headLen(r.Node, r.TS)
		c.headNode, c.headSec = r.Node, sec
	}
	c.bytes += int64(jsonFrame.begin + c.head + c.names.len(r.Sensor, &c.scratch) +
		c.names.len(r.Feature, &c.scratch) + c.names.len(r.Property, &c.scratch) + v)
}

// headLen is the length of node's escaped name, its meta_id's digits and
// the escaped datetime of ts.
func (c *JSONCounter) headLen(node string, ts time.Time) int {
	n := c.names.len(node, &c.scratch)
	c.scratch = strconv.AppendUint(c.scratch[:0], uint64(c.MetaIDs[node]), 10)
	n += len(c.scratch)
	c.dt = ts.UTC().AppendFormat(c.dt[:0], schema.DatetimeLayout) // as CSVEncoder writes it
	c.scratch = appendJSONString(c.scratch[:0], c.dt)
	return n + len(c.scratch)
}

func (c *JSONCounter) hasProp(p string) bool {
	for i := len(c.props) - 1; i >= 0; i-- {
		if c.props[i] == p {
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

func lastComma(line []byte) int {
	for i := len(line) - 1; i >= 0; i-- {
		if line[i] == ',' {
			return i
		}
	}
	return -1
}

// nameLens keeps the escaped lengths (appendJSONString's, quotes included)
// of the last names asked for: a network has a few dozen sensors,
// features and properties, and rows come in the same order every second,
// so the slot after the last hit is asked first. Comparing two interned
// strings stops at their shared pointer.
type nameLens struct {
	names [32]string
	lens  [32]int
	last  int // the slot last hit or filled
	next  int // the slot filled next
}

func (n *nameLens) len(s string, scratch *[]byte) int {
	for k := 1; k <= len(n.names); k++ {
		i := (n.last + k) % len(n.names)
		if n.lens[i] > 0 && n.names[i] == s {
			n.last = i
			return n.lens[i]
		}
	}
	*scratch = appendJSONString((*scratch)[:0], s)
	i := n.next
	n.names[i], n.lens[i] = s, len(*scratch)
	n.last, n.next = i, (i+1)%len(n.names)
	return n.lens[i]
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

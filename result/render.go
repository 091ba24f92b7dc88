package result

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"

	"github.com/plenario-next/exportd/schema"
)

// ErrBadRow is returned for a line that is not a stored row.
var ErrBadRow = errors.New("result: malformed stored row")

// errOpenQuote is AppendLine's for a line whose quoted field does not
// end: cut at a line break in a name (CSVEncoder quotes a name with one),
// it goes on past it. Its line unfinished, it is a malformed row.
var errOpenQuote = fmt.Errorf("%w: a quoted field goes on past the line", ErrBadRow)

// Renderer turns stored CSV lines into Plenario observations. It is the
// one JSON rendering of the service: a download runs it over a part's
// stored lines to send it; the exporter counts what it would make of them
// (JSONCounter, whose frame is measured on a Renderer and which
// FuzzJSONCounter holds equal to it), so the length, ETag and ranges a
// JSON download announces are those of the bytes it sends.
//
// Consecutive lines of one reading (node, datetime, sensor, feature)
// become one observation, but for a property it already has (see
// schema/readings.go). A part's JSON fragment is its observations, each
// preceded by ",\n" and closed by "}}"; its NDJSON, each closed by "}}\n".
// A part, a time slice, holds its readings whole, so the fragments of a
// job's parts stitched as Frame says are what one Renderer makes of all
// their lines.
type Renderer struct {
	// MetaIDs gives each observation its node's meta_id (0 if absent). It
	// is read once for each node (the node's piece of the head is kept).
	MetaIDs schema.MetaIDs
	// NDJSON renders one object a line instead of a fragment.
	NDJSON bool

	// names is the pieces made of the names seen: a line of known, plain
	// names (most lines) is rendered by comparing it with them and copying
	// them (run), without cutting or escaping a field; any other line is
	// cut (line) and adds its names. The pieces are the output of the
	// names alone, so what is rendered does not depend on which way a line
	// takes.
	names renderNames
	// The reading (node and datetime) of the last line: its node, an index
	// in names.nodes; its datetime, whether that is plain, and its JSON
	// string (escaped once for the many nodes of a second); nt,
	// "node,datetime," as a line spelt them when both are plain (else
	// empty): a line that begins with nt is of the same reading; and head,
	// what an observation of it begins with, the end of the one before
	// included: "}},\n" (JSON) or "}}\n" (NDJSON), then
	// {"node":…,"meta_id":…,"datetime":"…" (one copy an observation).
	reading             bool
	dtPlain             bool
	node                int32
	dt, dtOut, nt, head []byte
	// The open observation: its sensor and feature (sf, an id of
	// names; 0 when none is open or the reading has moved on, so that the
	// next line begins one) and its number, cur, which the triples of its
	// properties hold (tripleOut.stamp): each observation begun, a Reset
	// and a Close take the next number, so no triple holds it before it
	// is added, and the test of a line's property is one comparison,
	// without a list of the observation's properties to look through.
	open bool
	sf   int32
	cur  uint64
	last int32 // the triple of the last line rendered
	obs  int64
}

// Observations is how many observations have begun.
func (j *Renderer) Observations() int64 { return j.obs }

// Reset makes j render what a new Renderer would, keeping the pieces it
// has made of names (which depend on the names and MetaIDs alone): the
// gateway renders each chunk of a part so, without making them again for
// every chunk. The open observation, if any, is dropped, not closed.
func (j *Renderer) Reset() {
	j.reading, j.open, j.sf, j.obs = false, false, 0, 0
	j.cur++
	j.dt, j.dtOut, j.nt = j.dt[:0], j.dtOut[:0], j.nt[:0]
}

// AppendLine appends the rendering of one stored line,
// node,datetime,sensor,feature,property,value (without its line break),
// to b.
func (j *Renderer) AppendLine(b, line []byte) ([]byte, error) {
	if bytes.IndexByte(line, '\n') < 0 { // run takes a '\n' for the line's end
		if out, n := j.run(b, line); n > 0 {
			return out, nil
		}
	}
	return j.line(b, line)
}

// AppendLines appends the rendering of csv, whole stored lines (the last
// one's line break may be missing), to b. A line break in a quoted name is
// no line end: line says so of the line cut there (errOpenQuote), and
// appendOn carries it on.
func (j *Renderer) AppendLines(b, csv []byte) ([]byte, error) {
	for len(csv) > 0 {
		if out, n := j.run(b, csv); n > 0 {
			if b, csv = out, csv[n:]; len(csv) == 0 {
				break
			}
		}
		i := bytes.IndexByte(csv, '\n')
		line := csv
		if i >= 0 {
			line = csv[:i]
		}
		var err error
		b, err = j.line(b, line)
		if err == errOpenQuote && i >= 0 {
			if b, i, err = j.appendOn(b, csv, i); i < 0 { // the last line, without its line break
				b, err = j.AppendLine(b, csv)
			}
		}
		if err != nil {
			return b, err
		}
		if i < 0 {
			break
		}
		csv = csv[i+1:]
	}
	return b, nil
}

// appendOn renders the line p begins, whose '\n' at i AppendLine found in
// a quoted field (errOpenQuote): the line is taken to each next '\n' until
// it renders. end is the index of its '\n'; -1, with errOpenQuote and b
// as it was, if p does not hold it.
func (j *Renderer) appendOn(b, p []byte, i int) (out []byte, end int, err error) {
	for {
		k := bytes.IndexByte(p[i+1:], '\n')
		if k < 0 {
			return b, -1, errOpenQuote
		}
		i += k + 1
		if out, err = j.AppendLine(b, p[:i]); err != errOpenQuote {
			return out, i, err
		}
	}
}

// plainReading takes the node and datetime csv's line begins with as the
// reading's (setReading) when both are plain, and returns the length of
// "node,datetime,"; 0 if either holds a quote or the line ends first.
func (j *Renderer) plainReading(csv []byte) int {
	c1 := -1
	for k, c := range csv {
		switch c {
		case ',':
			if c1 >= 0 {
				j.setReading(csv[:c1], csv[c1+1:k], csv[:k+1])
				return k + 1
			}
			c1 = k
		case '"', '\n':
			return 0
		}
	}
	return 0
}

// nextReading takes the reading of csv's line, when it is the one that
// came after the last line's last time (the nodes of a part come in the
// same order every second) at the same datetime, both plain, and returns
// the length of "node,datetime,"; 0 if it is not: plainReading cuts it.
// Two comparisons, where plainReading looks at every byte.
func (j *Renderer) nextReading(csv []byte) int {
	if !j.reading || !j.dtPlain {
		return 0
	}
	i := j.names.nodes[j.node].next
	p := &j.names.nodes[i]
	k := len(p.node)
	e := k + 1 + len(j.dt)
	if !p.plain || i == j.node || len(csv) <= e || csv[k] != ',' || csv[e] != ',' {
		return 0
	}
	c := unsafe.Pointer(unsafe.SliceData(csv))
	if k >= 8 && len(j.dt) >= 8 { // as run compares, without memequal's calls
		if !equalAt(c, unsafe.Pointer(unsafe.StringData(p.node)), k) ||
			!equalAt(unsafe.Add(c, k+1), unsafe.Pointer(unsafe.SliceData(j.dt)), len(j.dt)) {
			return 0
		}
	} else if string(csv[:k]) != p.node || string(csv[k+1:e]) != string(j.dt) {
		return 0
	}
	j.node, j.sf = i, 0
	if e < 48 && len(csv) >= 48 && cap(j.nt) >= 48 { // copied whole by fixed moves
		nt := unsafe.Pointer(unsafe.SliceData(j.nt))
		move32(nt, c)
		move16(unsafe.Add(nt, 32), unsafe.Add(c, 32))
		j.nt = j.nt[:e+1]
	} else {
		j.nt = append(j.nt[:0], csv[:e+1]...)
	}
	j.makeHead()
	return e + 1
}

// setReading makes node and datetime (values) the reading of the line
// being rendered; nt is how the line spells them, "node,datetime,", when
// both are plain, else empty. A new reading ends the open observation's
// run: the line begins another.
func (j *Renderer) setReading(node, datetime, nt []byte) {
	if j.reading && j.names.nodes[j.node].node == string(node) && string(j.dt) == string(datetime) {
		if len(nt) > 0 && len(j.nt) == 0 {
			j.nt = append(j.nt, nt...)
		}
		return
	}
	last := int32(-1)
	if len(j.names.nodes) > 0 {
		last = j.node
	}
	j.node, j.reading, j.sf = j.names.node(node, j.MetaIDs, last), true, 0
	if string(j.dt) != string(datetime) || len(j.dtOut) == 0 {
		j.dt, j.dtPlain = append(j.dt[:0], datetime...), plainName(datetime)
		if cap(j.dtOut) < 32 { // room for makeHead's move32
			j.dtOut = make([]byte, 0, 32)
		}
		j.dtOut = appendJSONString(j.dtOut[:0], datetime)
	}
	if cap(j.nt) < 48 { // room for nextReading's moves
		j.nt = make([]byte, 0, 48)
	}
	j.nt = append(j.nt[:0], nt...)
	j.makeHead()
}

func (j *Renderer) makeHead() {
	if cap(j.head) < 192 { // room for runQuick's move96, and for the moves here
		j.head = make([]byte, 0, 192)
	}
	h := append(j.head[:0], "}},\n"...)
	if j.NDJSON {
		h = append(h[:0], "}}\n"...)
	}
	out, dt := j.names.nodes[j.node].out, j.dtOut
	if n := len(h); len(out) <= 96 && cap(out) >= 96 && len(dt) <= 32 && cap(dt) >= 32 { // a head a reading, most of them by fixed moves
		p := unsafe.Pointer(unsafe.SliceData(h))
		move96(unsafe.Add(p, n), unsafe.Pointer(unsafe.SliceData(out)))
		move32(unsafe.Add(p, n+len(out)), unsafe.Pointer(unsafe.SliceData(dt)))
		j.head = h[:n+len(out)+len(dt)]
		return
	}
	j.head = append(append(h, out...), dt...)
}

// line renders any line: its fields cut, unquoted where needed (a local
// array, not the renderer's: see splitFrom), its names looked up by value
// and added if new.
func (j *Renderer) line(b, line []byte) ([]byte, error) {
	if len(line) == 0 {
		return b, nil
	}
	var f [6][]byte
	var err error
	if f, err = splitFrom(line, f, 0); err != nil {
		return b, err
	}
	if len(f[5]) > 0 && !isJSONNumber(f[5]) { // copied verbatim into the output
		return b, ErrBadRow
	}
	var nt, raw []byte
	if plainLine(line) { // the fields are the line's own bytes
		k := len(f[0]) + len(f[1]) + 2
		nt, raw = line[:k], line[k:k+len(f[2])+len(f[3])+len(f[4])+3]
	}
	j.setReading(f[0], f[1], nt)
	if n := len(j.names.trips); n >= maxRenderNames && n >= maxRenderNames+j.openProps() { // kept: the open observation's own
		j.forgetTriples()
	}
	return j.emit(b, j.names.triple(f[2], f[3], f[4], raw), f[5]), nil
}

// plainLine reports whether line has no quote and no line break, so that
// every field is spelt as its value and a spelling compared with a '\n'
// ahead never runs past the line.
func plainLine(line []byte) bool {
	for _, c := range line {
		if c == '"' || c == '\n' {
			return false
		}
	}
	return true
}

// emit appends a line's property, triple ti, and value (empty: null): to
// the open observation when it is of the line's reading, sensor and
// feature and has not the property yet (schema/readings.go), else to a new
// one it begins.
func (j *Renderer) emit(b []byte, ti int32, val []byte) []byte {
	trips := j.names.trips
	t := &trips[ti]
	if t.sf == j.sf && t.stamp != j.cur {
		b = append(b, t.more...)
	} else {
		h := j.head
		if !j.open { // no observation to end: ",\n" before it (JSON) or nothing
			h = h[2:]
			if j.NDJSON {
				h = h[1:]
			}
		}
		b = append(b, h...)
		b = append(b, t.begin...)
		j.open, j.sf = true, t.sf
		j.cur++
		j.obs++
	}
	t.stamp = j.cur
	trips[j.last].next = ti
	j.last = ti
	if len(val) == 0 {
		return append(b, "null"...)
	}
	return append(b, val...)
}

// openProps is how many properties the open observation has.
func (j *Renderer) openProps() int {
	n := 0
	for i := range j.names.trips {
		n += b2i(j.names.trips[i].stamp == j.cur)
	}
	return n
}

// forgetTriples begins the list of triples again (it is full), keeping
// those of the open observation's properties.
func (j *Renderer) forgetTriples() {
	var keep []tripleOut
	for _, t := range j.names.trips {
		if t.stamp == j.cur {
			keep = append(keep, t)
		}
	}
	j.names.forgetTriples()
	j.last = 0
	for _, t := range keep {
		i := j.names.triple([]byte(t.sensor), []byte(t.feature), []byte(t.prop), t.raw)
		j.names.trips[i].stamp, j.last = j.cur, i
		if j.sf != 0 {
			j.sf = j.names.trips[i].sf
		}
	}
}

// Close appends the end of the open observation, if any, to b.
func (j *Renderer) Close(b []byte) []byte {
	if !j.open {
		return b
	}
	j.open, j.sf = false, 0
	j.cur++
	b = append(b, "}}"...)
	if j.NDJSON {
		b = append(b, '\n')
	}
	return b
}

package result

import (
	"bytes"
	"errors"
	"fmt"

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
	// MetaIDs gives each observation its node's meta_id (0 if absent).
	MetaIDs schema.MetaIDs
	// NDJSON renders one object a line instead of a fragment.
	NDJSON bool

	key []byte // node,datetime,sensor,feature of the open observation
	// nt is "node,datetime," as the last fully cut line began, when both
	// were plain; head is the output they make, {"node":…,"datetime":…
	// (appendHead). The readings of one node and second follow one
	// another: most lines begin with the same nt, and only their rest is
	// cut and escaped.
	nt, head []byte
	ntNode   int // len of the node in nt
	// sf holds the output of the last few sensor and feature pairs,
	// ,"sensor":…,"feature":…,"results":{ (a network has a handful).
	sf             [8]sfPiece
	sfNext, sfLast int
	props          propSet // of the open observation: a repeat starts another
	open           bool
	// keyPlain says key is line's raw "node,datetime,sensor,feature,"
	// (plainKey), not the four fields 0-separated.
	keyPlain bool
	obs      int64
}

// sfPiece is a sensor and feature, their raw "sensor,feature," and the
// output they make.
type sfPiece struct{ sensor, feature, raw, out []byte }

// Observations is how many observations have begun.
func (j *Renderer) Observations() int64 { return j.obs }

// AppendLine appends the rendering of one stored line,
// node,datetime,sensor,feature,property,value (without its line break),
// to b.
func (j *Renderer) AppendLine(b, line []byte) ([]byte, error) {
	if len(line) == 0 {
		return b, nil
	}
	// Most lines of a reading after its first begin with the same plain
	// node,datetime,sensor,feature, as the open observation's: only the
	// property and value are cut.
	if k := len(j.key); j.open && j.keyPlain && len(line) > k && bytes.Equal(line[:k], j.key) {
		if out, ok, err := j.more(b, line[k:]); ok || err != nil {
			return out, err
		}
	}
	if out, ok, err := j.known(b, line); ok || err != nil {
		return out, err
	}
	return j.line(b, line)
}

// known renders a line that begins with the last plain node,datetime,
// (nt) and then the raw sensor,feature, of a piece rendered already, as
// most lines that begin an observation do: only its property and value
// are cut. ok is false for a line it leaves to line.
func (j *Renderer) known(b, line []byte) (out []byte, ok bool, err error) {
	n := len(j.nt)
	if n == 0 || len(j.head) == 0 || len(line) <= n || !bytes.Equal(line[:n], j.nt) {
		return b, false, nil
	}
	p := j.rawPiece(line[n:])
	if p < 0 {
		return b, false, nil
	}
	piece := &j.sf[p]
	kp := n + len(piece.raw)
	rest := line[kp:]
	c := comma(rest)
	if c == 0 || c == len(rest) || rest[0] == '"' || c+1 < len(rest) && rest[c+1] == '"' {
		return b, false, nil
	}
	prop, val := rest[:c], rest[c+1:]
	if len(val) > 0 && !isJSONNumber(val) { // copied verbatim into the output
		return b, true, ErrBadRow
	}
	if j.open && j.keyPlain && bytes.Equal(line[:kp], j.key) && !j.props.hasBytes(prop) {
		return j.value(append(b, ','), prop, val), true, nil
	}
	j.props.reset()
	j.key, j.keyPlain = append(j.key[:0], line[:kp]...), true
	b = j.Close(b)
	if !j.NDJSON {
		b = append(b, ",\n"...)
	}
	j.open = true
	j.obs++
	b = append(append(b, j.head...), piece.out...)
	j.sfLast = p
	return j.value(b, prop, val), true, nil
}

// rawPiece is the index of the piece whose raw "sensor,feature," begins
// rest; -1 if none. A reading's pairs come in the same order every second,
// the order their pieces were made in: the one after the last used is
// asked first.
func (j *Renderer) rawPiece(rest []byte) int {
	for k := 1; k <= len(j.sf); k++ {
		i := (j.sfLast + k) % len(j.sf)
		if r := j.sf[i].raw; len(r) > 0 && len(rest) > len(r) && bytes.Equal(rest[:len(r)], r) {
			return i
		}
	}
	return -1
}

// AppendLines appends the rendering of csv, whole stored lines (the last
// one's line break may be missing), to b. A line break in a quoted name is
// no line end: AppendLine says so of the line cut there (errOpenQuote),
// and appendOn carries it on.
func (j *Renderer) AppendLines(b, csv []byte) ([]byte, error) {
	for len(csv) > 0 {
		i := bytes.IndexByte(csv, '\n')
		line := csv
		if i >= 0 {
			line = csv[:i]
		}
		var err error
		b, err = j.AppendLine(b, line)
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

// more appends rest, "property,value" of a line of the open observation's
// reading, to it; ok is false for a rest it leaves to line (a quoted
// field, a property the observation has already).
func (j *Renderer) more(b, rest []byte) (out []byte, ok bool, err error) {
	c := bytes.IndexByte(rest, ',')
	if c <= 0 || rest[0] == '"' || c+1 < len(rest) && rest[c+1] == '"' {
		return b, false, nil
	}
	prop, val := rest[:c], rest[c+1:]
	if j.props.hasBytes(prop) {
		return b, false, nil
	}
	if len(val) > 0 && !isJSONNumber(val) { // copied verbatim into the output
		return b, true, ErrBadRow
	}
	return j.value(append(b, ','), prop, val), true, nil
}

// line renders any line: its fields cut, unquoted where needed (a local
// array, not the renderer's: see splitFrom).
func (j *Renderer) line(b, line []byte) ([]byte, error) {
	var f [6][]byte
	if n := len(j.nt); n > 0 && len(line) > n && bytes.Equal(line[:n], j.nt) {
		f[0], f[1] = j.nt[:j.ntNode], j.nt[j.ntNode+1:n-1]
		var err error
		if f, err = splitFrom(line[n:], f, 2); err != nil {
			return b, err
		}
	} else {
		var err error
		if f, err = splitFrom(line, f, 0); err != nil {
			return b, err
		}
		j.rememberNT(line, &f)
	}
	if len(f[5]) > 0 && !isJSONNumber(f[5]) { // copied verbatim into the output
		return b, ErrBadRow
	}
	kp := plainKey(line, &f)
	same := j.open
	switch {
	case same && j.keyPlain && kp > 0:
		same = bytes.Equal(line[:kp], j.key)
	case same && j.keyPlain: // the same names may be quoted in one line and not in another
		same = sameKey(j.key, &f, ',', true)
	case same:
		same = sameKey(j.key, &f, 0, false)
	}
	if same && !j.props.hasBytes(f[4]) {
		b = append(b, ',')
	} else {
		b = j.begin(b, &f, line, kp)
	}
	return j.value(b, f[4], f[5]), nil
}

// value appends "property":value to the open observation.
func (j *Renderer) value(b, prop, val []byte) []byte {
	j.props.addBytes(prop)
	b = appendJSONString(b, prop)
	b = append(b, ':')
	if len(val) == 0 {
		return append(b, "null"...)
	}
	return append(b, val...)
}

// begin closes the open observation, if any, and begins the one of f, of
// line; kp is the length of line's plain key prefix (plainKey).
func (j *Renderer) begin(b []byte, f *[6][]byte, line []byte, kp int) []byte {
	j.props.reset()
	if j.keyPlain = kp > 0; j.keyPlain {
		j.key = append(j.key[:0], line[:kp]...)
	} else {
		j.key = append(append(append(append(append(append(append(j.key[:0], f[0]...), 0), f[1]...), 0), f[2]...), 0), f[3]...)
	}
	b = j.Close(b)
	if !j.NDJSON {
		b = append(b, ",\n"...)
	}
	j.open = true
	j.obs++
	if len(j.head) == 0 || len(j.nt) == 0 {
		j.head = appendHead(j.head[:0], f[0], j.MetaIDs[string(f[0])], f[1])
	}
	b = append(b, j.head...)
	if len(j.nt) == 0 {
		j.head = j.head[:0] // made of a line that is not remembered
	}
	if kp > 0 { // sensor,feature, as the line has it
		return j.sensorFeature(b, line[len(f[0])+len(f[1])+2:kp], f[2], f[3])
	}
	return j.sensorFeature(b, nil, f[2], f[3])
}

// plainKey is the length of line's "node,datetime,sensor,feature," when
// none of the four is quoted, else 0: a key compared as raw bytes, since
// plain fields hold no comma.
func plainKey(line []byte, f *[6][]byte) int {
	pos := 0
	for i := range 4 {
		n := len(f[i])
		if pos+n >= len(line) || (n > 0 && line[pos] == '"') || line[pos+n] != ',' {
			return 0
		}
		pos += n + 1
	}
	return pos
}

// Close appends the end of the open observation, if any, to b.
func (j *Renderer) Close(b []byte) []byte {
	if !j.open {
		return b
	}
	j.open = false
	b = append(b, "}}"...)
	if j.NDJSON {
		b = append(b, '\n')
	}
	return b
}

// sensorFeature appends the output of a sensor and a feature, rendered once
// for the last few pairs; raw, when not nil, is "sensor,feature," as a
// plain line has it, compared at once. The last pair used is asked first.
func (j *Renderer) sensorFeature(b, raw, sensor, feature []byte) []byte {
	for k := range len(j.sf) {
		i := (j.sfLast + k) % len(j.sf)
		p := &j.sf[i]
		if len(p.out) == 0 {
			continue
		}
		if raw != nil && bytes.Equal(p.raw, raw) || raw == nil && bytes.Equal(p.sensor, sensor) && bytes.Equal(p.feature, feature) {
			j.sfLast = i
			return append(b, p.out...)
		}
	}
	p := &j.sf[j.sfNext]
	j.sfLast, j.sfNext = j.sfNext, (j.sfNext+1)%len(j.sf)
	p.sensor, p.feature = append(p.sensor[:0], sensor...), append(p.feature[:0], feature...)
	p.raw = append(p.raw[:0], raw...) // empty without one: matched by none
	p.out = renderSF(p.out[:0], sensor, feature)
	return append(b, p.out...)
}

// rememberNT keeps the node and datetime of a line just cut, when they are
// plain (not quoted), as the prefix the next lines are compared with.
func (j *Renderer) rememberNT(line []byte, f *[6][]byte) {
	j.nt, j.head = j.nt[:0], j.head[:0]
	k, d := len(f[0]), len(f[1])
	if len(line) > k+d+1 && line[k] == ',' && line[k+d+1] == ',' && bytes.Equal(line[:k], f[0]) &&
		bytes.Equal(line[k+1:k+1+d], f[1]) {
		j.nt, j.ntNode = append(j.nt, line[:k+d+2]...), k
	}
}

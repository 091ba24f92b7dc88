package result

import (
	"bytes"
	"errors"

	"github.com/plenario-next/exportd/schema"
)

// ErrBadRow is returned for a line that is not a stored row.
var ErrBadRow = errors.New("result: malformed stored row")

// Renderer turns stored CSV lines into Plenario observations. It is the
// one JSON rendering of the service: the exporter runs it over each line
// it stores to count the part's JSON size, and a download runs it over the
// same stored lines to send it, so the length, ETag and ranges a JSON
// download announces are those of the bytes it sends, by construction.
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

	key []byte // node,datetime,sensor,feature of the open observation, 0-separated
	// nt is "node,datetime," as the last fully cut line began, when both
	// were plain; head is the output they make, {"node":…,"datetime":…
	// (appendHead). The readings of one node and second follow one
	// another: most lines begin with the same nt, and only their rest is
	// cut and escaped.
	nt, head []byte
	ntNode   int // len of the node in nt
	// sf holds the output of the last few sensor and feature pairs,
	// ,"sensor":…,"feature":…,"results":{ (a network has a handful).
	sf     [8]sfPiece
	sfNext int
	props  propSet // of the open observation: a repeat starts another
	open   bool
	obs    int64
}

// sfPiece is a sensor and feature and the output they make.
type sfPiece struct{ sensor, feature, out []byte }

// Observations is how many observations have begun.
func (j *Renderer) Observations() int64 { return j.obs }

// AppendLine appends the rendering of one stored line,
// node,datetime,sensor,feature,property,value (without its line break),
// to b. The fields are a local array, not the renderer's: slices stored
// into a heap object pay a GC write barrier each, six per row.
func (j *Renderer) AppendLine(b, line []byte) ([]byte, error) {
	if len(line) == 0 {
		return b, nil
	}
	var f [6][]byte
	if n := len(j.nt); n > 0 && len(line) > n && bytes.Equal(line[:n], j.nt) {
		f[0], f[1] = j.nt[:j.ntNode], j.nt[j.ntNode+1:n-1]
		if err := splitFrom(line[n:], &f, 2); err != nil {
			return b, err
		}
	} else {
		if err := splitFrom(line, &f, 0); err != nil {
			return b, err
		}
		j.rememberNT(line, &f)
	}
	if len(f[5]) > 0 && !isJSONNumber(f[5]) { // copied verbatim into the output
		return b, ErrBadRow
	}
	if j.open && sameKey(j.key, &f) && !j.props.hasBytes(f[4]) {
		b = append(b, ',')
	} else {
		b = j.begin(b, &f)
	}
	j.props.addBytes(f[4])
	b = appendJSONString(b, f[4])
	b = append(b, ':')
	if len(f[5]) == 0 {
		return append(b, "null"...), nil
	}
	return append(b, f[5]...), nil
}

// begin closes the open observation, if any, and begins the one of f.
func (j *Renderer) begin(b []byte, f *[6][]byte) []byte {
	j.props.reset()
	j.key = append(append(append(append(append(append(append(j.key[:0], f[0]...), 0), f[1]...), 0), f[2]...), 0), f[3]...)
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
	return j.sensorFeature(b, f[2], f[3])
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
// for the last few pairs.
func (j *Renderer) sensorFeature(b, sensor, feature []byte) []byte {
	for i := range j.sf {
		if p := &j.sf[i]; len(p.out) > 0 && bytes.Equal(p.sensor, sensor) && bytes.Equal(p.feature, feature) {
			return append(b, p.out...)
		}
	}
	p := &j.sf[j.sfNext]
	j.sfNext = (j.sfNext + 1) % len(j.sf)
	p.sensor, p.feature = append(p.sensor[:0], sensor...), append(p.feature[:0], feature...)
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

package result

import (
	"bytes"
	"errors"
	"io"

	"github.com/plenario-next/exportd/schema"
)

// jsonFlush is how much output a JSONWriter gathers before it writes: a
// chunk of a chunked response each, so not too small.
const jsonFlush = 256 << 10

// sfPiece is a sensor and feature and the output they make.
type sfPiece struct{ sensor, feature, out []byte }

// sensorFeature appends the output of a sensor and a feature, rendered once
// for the last few pairs.
func (j *JSONWriter) sensorFeature(b, sensor, feature []byte) []byte {
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

// ErrBadRow is returned by a JSONWriter fed a line that is not a stored row.
var ErrBadRow = errors.New("result: malformed stored row")

// JSONWriter turns stored CSV rows, written to it in chunks of any size,
// into Plenario observations: a JSON array, or one object a line for
// NDJSON. Consecutive rows of one reading become one observation, but for
// a property it already has (readings.go). Close
// writes the end; the output is valid JSON for any number of rows, zero
// included.
type JSONWriter struct {
	// MetaIDs gives each observation its node's meta_id (0 if absent).
	MetaIDs schema.MetaIDs

	w       io.Writer
	ndjson  bool
	partial []byte // an unfinished line from the last Write
	out     []byte
	key     []byte // node,datetime,sensor,feature of the open observation, 0-separated
	// nt is "node,datetime," as the last fully cut line began, when both
	// were plain; head is the output they make, {"node":…,"datetime":…
	// (appendHead).
	// The readings of one node and second follow one another: most lines
	// begin with the same nt, and only their rest is cut and escaped.
	nt, head []byte
	ntNode   int // len of the node in nt
	// sf holds the output of the last few sensor and feature pairs,
	// ,"sensor":…,"feature":…,"results":{ (a network has a handful).
	sf       [8]sfPiece
	sfNext   int
	props    propSet // of the open observation: a repeat starts another
	open     bool
	started  bool
	fragment bool
	n        int64
}

// NewJSONWriter returns a JSONWriter writing to w.
func NewJSONWriter(w io.Writer, ndjson bool) *JSONWriter {
	return &JSONWriter{w: w, ndjson: ndjson}
}

// NewJSONFragmentWriter returns a JSONWriter of observations only: no
// array brackets. The output of a JSONWriter over rows r1 and r2 (the rows
// of no reading split between them) is "[", the fragment of r1, "," if both
// fragments are non-empty, the fragment of r2, and "]\n"; for NDJSON, the
// fragments one after the other.
func NewJSONFragmentWriter(w io.Writer, ndjson bool) *JSONWriter {
	return &JSONWriter{w: w, ndjson: ndjson, started: true, fragment: true}
}

// Write consumes CSV rows.
func (j *JSONWriter) Write(p []byte) (int, error) {
	n := len(p)
	if !j.started {
		j.started = true
		if !j.ndjson {
			j.out = append(j.out, '[')
		}
	}
	if len(j.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			j.partial = append(j.partial, p...)
			return n, nil
		}
		j.partial = append(j.partial, p[:i+1]...)
		p = p[i+1:]
		line := j.partial
		if err := j.row(line[:len(line)-1]); err != nil {
			return 0, err
		}
		j.partial = j.partial[:0]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			j.partial = append(j.partial, p...)
			break
		}
		if err := j.row(p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	if len(j.out) >= jsonFlush {
		if err := j.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Close finishes the last observation and the array, and writes it all out.
func (j *JSONWriter) Close() error {
	if len(j.partial) > 0 {
		if err := j.row(j.partial); err != nil {
			return err
		}
		j.partial = nil
	}
	if !j.started && !j.ndjson {
		j.out = append(j.out, '[')
	}
	j.started = true
	if j.open {
		j.out = append(j.out, "}}"...)
		if j.ndjson {
			j.out = append(j.out, '\n')
		}
	}
	if !j.ndjson && !j.fragment {
		j.out = append(j.out, "]\n"...)
	}
	if len(j.out) == 0 {
		return nil
	}
	return j.flush()
}

func (j *JSONWriter) flush() error {
	_, err := j.w.Write(j.out)
	j.out = j.out[:0]
	return err
}

// row handles one stored line: node,datetime,sensor,feature,property,value.
// The fields are a local array, not the writer's: slices stored into a heap
// object pay a GC write barrier each, six per row.
func (j *JSONWriter) row(line []byte) error {
	if len(line) == 0 {
		return nil
	}
	var f [6][]byte
	if n := len(j.nt); n > 0 && len(line) > n && bytes.Equal(line[:n], j.nt) {
		f[0], f[1] = j.nt[:j.ntNode], j.nt[j.ntNode+1:n-1]
		if err := splitFrom(line[n:], &f, 2); err != nil {
			return err
		}
	} else {
		if err := splitFrom(line, &f, 0); err != nil {
			return err
		}
		j.rememberNT(line, &f)
	}
	if len(f[5]) > 0 && !isJSONNumber(f[5]) { // copied verbatim into the output
		return ErrBadRow
	}
	if j.open && sameKey(j.key, &f) && !j.props.hasBytes(f[4]) {
		j.out = append(j.out, ',')
	} else {
		j.props.reset()
		j.key = append(append(append(append(append(append(append(j.key[:0], f[0]...), 0), f[1]...), 0), f[2]...), 0), f[3]...)
		if j.open {
			j.out = append(j.out, "}}"...)
			if j.ndjson {
				j.out = append(j.out, '\n')
			} else {
				j.out = append(j.out, ",\n"...)
			}
		} else if !j.ndjson {
			j.out = append(j.out, '\n')
		}
		j.open = true
		if len(j.head) == 0 || len(j.nt) == 0 {
			j.head = appendHead(j.head[:0], f[0], j.MetaIDs[string(f[0])], f[1])
		}
		j.out = append(j.out, j.head...)
		if len(j.nt) == 0 {
			j.head = j.head[:0] // made of a line that is not remembered
		}
		j.out = j.sensorFeature(j.out, f[2], f[3])
	}
	j.props.addBytes(f[4])
	j.out = appendJSONString(j.out, f[4])
	j.out = append(j.out, ':')
	if len(f[5]) == 0 {
		j.out = append(j.out, "null"...)
	} else {
		j.out = append(j.out, f[5]...)
	}
	j.n++
	return nil
}

// sameKey reports whether key holds the first four of f, 0-separated.
func sameKey(key []byte, f *[6][]byte) bool {
	if len(key) != len(f[0])+len(f[1])+len(f[2])+len(f[3])+3 {
		return false
	}
	for i := range 4 {
		n := len(f[i])
		if !bytes.Equal(key[:n], f[i]) || (i < 3 && key[n] != 0) {
			return false
		}
		if i < 3 {
			key = key[n+1:]
		}
	}
	return true
}

// rememberNT keeps the node and datetime of a line just cut, when they are
// plain (not quoted), as the prefix the next lines are compared with.
func (j *JSONWriter) rememberNT(line []byte, f *[6][]byte) {
	j.nt, j.head = j.nt[:0], j.head[:0]
	k, d := len(f[0]), len(f[1])
	if len(line) > k+d+1 && line[k] == ',' && line[k+d+1] == ',' && bytes.Equal(line[:k], f[0]) &&
		bytes.Equal(line[k+1:k+1+d], f[1]) {
		j.nt, j.ntNode = append(j.nt, line[:k+d+2]...), k
	}
}

// splitFrom cuts the fields from on of a stored CSV line (line begins with
// field from) into f, unquoting where needed.
func splitFrom(line []byte, f *[6][]byte, from int) error {
	for i := from; i < 6; i++ {
		if i > from {
			if len(line) == 0 || line[0] != ',' {
				return ErrBadRow
			}
			line = line[1:]
		}
		if len(line) > 0 && line[0] == '"' {
			var unq []byte // rare: a name with a comma or a quote
			k := 1
			for {
				if k >= len(line) {
					return ErrBadRow
				}
				if line[k] == '"' {
					if k+1 < len(line) && line[k+1] == '"' {
						unq = append(unq, '"')
						k += 2
						continue
					}
					k++
					break
				}
				unq = append(unq, line[k])
				k++
			}
			f[i] = unq
			line = line[k:]
			continue
		}
		k := bytes.IndexByte(line, ',')
		if k < 0 || i == 5 {
			k = len(line)
		}
		f[i] = line[:k]
		line = line[k:]
	}
	if len(line) != 0 {
		return ErrBadRow
	}
	return nil
}

// isJSONNumber reports whether b is a number as JSON spells it, so that a
// stored value can be copied into the output without breaking it.
func isJSONNumber(b []byte) bool {
	digits := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		if j := digits(i + 1); j > i+1 {
			i = j
		} else {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if j := digits(i); j > i {
			i = j
		} else {
			return false
		}
	}
	return i == len(b)
}

// appendJSONString appends s as a JSON string: runs of bytes that need no
// escape in one copy each (names and times are all such bytes).
func appendJSONString[T ~[]byte | ~string](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '"' && c != '\\' && c >= 0x20 {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		if c == '"' || c == '\\' {
			b = append(b, '\\', c)
		} else {
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

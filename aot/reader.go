package aot

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"
	"unsafe"

	"github.com/plenario-next/exportd/schema"
)

// Counts says what became of a digest's data lines. Every line is counted
// once: as a reading, or as skipped for the first cause that applies, in
// the order of the fields.
type Counts struct {
	Lines    int64 `json:"lines"`    // data lines, header not counted
	Readings int64 `json:"readings"` // lines handed on to be stored
	// Malformed: not seven fields, an unreadable timestamp, broken quoting.
	Malformed int64 `json:"malformed"`
	// Before is lines older than the network's load checkpoint: stored by
	// an earlier load of this or an older digest.
	Before        int64 `json:"already_loaded"`
	UnknownNode   int64 `json:"unknown_node"`   // a node_id absent from nodes.csv
	UnknownSensor int64 `json:"unknown_sensor"` // a subsystem, sensor, parameter absent from sensors.csv
	NA            int64 `json:"na"`             // value_hrf NA or empty
	NotNumeric    int64 `json:"not_numeric"`    // value_hrf text (metsense id lines), NaN or infinite
	Duplicate     int64 `json:"duplicate"`      // the exact repeat of an earlier line
}

// maxRecord bounds one data record (a line, or a few when a quoted field
// holds a newline): a longer one is malformed, and memory stays bounded.
const maxRecord = 64 << 10

// Reader streams a digest's observations as rows, in file order, skipping
// and counting the lines it cannot store. Memory is a read buffer and the
// lines of the last minute or two (to find exact duplicates), whatever the
// size of the digest.
type Reader struct {
	// From skips lines before this Unix second, counted as already loaded.
	// Set it before the first Next.
	From int64

	rc     io.ReadCloser
	br     *bufio.Reader
	cat    *catalog
	counts Counts
	err    error
	first  bool
	rec    []byte // a record built from several reads
	fields [7][]byte
	dup    dedupe
	seen   [][]bool // [node][sensor]: the node reported the sensor

	lastTS   [19]byte // the last timestamp parsed, and its value
	lastUnix int64
	lastOK   bool
}

func newReader(rc io.ReadCloser, cat *catalog) *Reader {
	r := &Reader{rc: rc, br: lineEnds(rc, 1<<20), cat: cat, first: true, seen: make([][]bool, len(cat.nodeIDs))}
	for i := range r.seen {
		r.seen[i] = make([]bool, len(cat.sensors))
	}
	return r
}

// Close releases the data file.
func (r *Reader) Close() error { return r.rc.Close() }

// Counts returns what has been read so far.
func (r *Reader) Counts() Counts { return r.counts }

// Err is the error that stopped reading: an unreadable or truncated file.
// A line that cannot be stored is never an error, only counted.
func (r *Reader) Err() error { return r.err }

// NodeSensors lists, per node, the sensors it reported in the lines read
// (skipped lines not counted), sorted.
func (r *Reader) NodeSensors() map[string][]string {
	out := map[string][]string{}
	for ni, row := range r.seen {
		for si, ok := range row {
			if ok {
				out[r.cat.nodeIDs[ni]] = append(out[r.cat.nodeIDs[ni]], r.cat.sensors[si])
			}
		}
	}
	for _, s := range out {
		sort.Strings(s)
	}
	return out
}

// Next reads the next storable line into row; false at the end of the data
// or on an error (see Err).
func (r *Reader) Next(row *schema.Row) bool {
	for {
		line, err := r.record()
		if err != nil {
			if err != io.EOF {
				r.err = fmt.Errorf("aot: %s: %w", DataFile, err)
			}
			return false
		}
		if len(line) == 0 {
			continue
		}
		if r.first {
			r.first = false
			// A spreadsheet's byte-order mark, as readTable allows in metadata.
			if bytes.HasPrefix(bytes.TrimPrefix(line, []byte("\ufeff")), []byte("timestamp,")) {
				continue
			}
		}
		r.counts.Lines++
		if r.parse(line, row) {
			r.counts.Readings++
			return true
		}
	}
}

// record returns the next record without its line ending, valid until the
// next call. A record longer than maxRecord is returned cut short, and so
// is found malformed.
func (r *Reader) record() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(line) > 0) {
		if bytes.IndexByte(line, '"') < 0 || bytes.Count(line, []byte{'"'})%2 == 0 {
			return trimEOL(line), nil
		}
	} else if err != bufio.ErrBufferFull {
		return nil, err
	}
	// A long line, or a quoted field running over a line end: gather the
	// record in r.rec.
	r.rec = append(r.rec[:0], line...)
	for len(r.rec) < maxRecord {
		if err == nil && bytes.Count(r.rec, []byte{'"'})%2 == 0 {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			break // the end of the file ends the record too
		}
		line, err = r.br.ReadSlice('\n')
		r.rec = append(r.rec, line...)
	}
	if len(r.rec) >= maxRecord {
		for err == bufio.ErrBufferFull { // skip the rest of the line
			_, err = r.br.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		return []byte("\x00too long"), nil
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	return trimEOL(r.rec), nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// split cuts line into the seven fields; the returned key is the
// "subsystem,sensor,parameter" the catalog is keyed by.
func (r *Reader) split(line []byte) (key []byte, ok bool) {
	if bytes.IndexByte(line, '"') >= 0 {
		return r.splitQuoted(line)
	}
	f := &r.fields
	start, n := 0, 0
	for i, c := range line {
		if c == ',' {
			if n == 6 {
				return nil, false
			}
			f[n] = line[start:i]
			n++
			start = i + 1
		}
	}
	if n != 6 {
		return nil, false
	}
	f[6] = line[start:]
	// Fields 2 to 4 are contiguous in the line, commas included.
	base := len(f[0]) + len(f[1]) + 2
	return line[base : base+len(f[2])+len(f[3])+len(f[4])+2], true
}

var errFieldCount = errors.New("not 7 fields")

// splitQuoted is split for a line with quotes, by encoding/csv's rules.
func (r *Reader) splitQuoted(line []byte) ([]byte, bool) {
	cr := csv.NewReader(bytes.NewReader(line))
	cr.FieldsPerRecord = 7
	rec, err := cr.Read()
	if err != nil {
		return nil, false
	}
	if _, err := cr.Read(); err != io.EOF {
		return nil, false // two records in one: a newline inside quotes split wrongly
	}
	for i, s := range rec {
		r.fields[i] = []byte(s)
	}
	return []byte(rec[2] + "," + rec[3] + "," + rec[4]), true
}

// parse decides what line is: a row (true), or a skipped line, counted.
func (r *Reader) parse(line []byte, row *schema.Row) bool {
	key, ok := r.split(line)
	if !ok {
		r.counts.Malformed++
		return false
	}
	f := &r.fields
	ts, ok := r.timestamp(f[0])
	if !ok {
		r.counts.Malformed++
		return false
	}
	if ts < r.From {
		r.counts.Before++
		return false
	}
	ni, ok := r.cat.nodes[string(f[1])]
	if !ok {
		r.counts.UnknownNode++
		return false
	}
	pi, ok := r.cat.params[string(key)]
	if !ok {
		r.counts.UnknownSensor++
		return false
	}
	hrf := f[6]
	if len(hrf) == 0 || string(hrf) == "NA" {
		r.counts.NA++
		return false
	}
	v, err := strconv.ParseFloat(unsafe.String(&hrf[0], len(hrf)), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		r.counts.NotNumeric++
		return false
	}
	if r.dup.seen(ts, line) {
		r.counts.Duplicate++
		return false
	}
	p := &r.cat.list[pi]
	r.seen[ni][p.sensor] = true
	*row = schema.Row{Node: r.cat.nodeIDs[ni], TS: time.Unix(ts, 0).UTC(), Sensor: p.sensorName, Feature: p.feature, Property: p.property, Value: v}
	return true
}

// timestamp parses "YYYY/MM/DD HH:MM:SS" (or with '-' in the date) as UTC.
// Consecutive lines mostly share a second, so the last one is remembered.
func (r *Reader) timestamp(b []byte) (int64, bool) {
	if len(b) != 19 {
		return 0, false
	}
	if r.lastOK && string(b) == string(r.lastTS[:]) {
		return r.lastUnix, true
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	if (b[4] != '/' && b[4] != '-') || b[7] != b[4] || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	y, mo, d, h, mi, s := num(0, 4), num(5, 2), num(8, 2), num(11, 2), num(14, 2), num(17, 2)
	if y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 {
		return 0, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
	if t.Day() != d { // 31 April and the like
		return 0, false
	}
	copy(r.lastTS[:], b)
	r.lastUnix, r.lastOK = t.Unix(), true
	return r.lastUnix, true
}

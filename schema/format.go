package schema

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"time"
)

// Formats a download may take.
const (
	FormatCSV    = "csv"
	FormatJSON   = "json"
	FormatNDJSON = "ndjson"
)

// CSVHeader is the first line of every CSV download. Parts are stored as
// CSV rows without it, one row per observed value.
const CSVHeader = "node_id,datetime,sensor,feature,property,value\n"

// Observation is one reading as Plenario served it: the properties of one
// (node, datetime, sensor, feature) grouped into Results.
type Observation struct {
	Node     string             `json:"node"`
	Datetime string             `json:"datetime"`
	Sensor   string             `json:"sensor"`
	Feature  string             `json:"feature"`
	Results  map[string]float64 `json:"results"`
}

// Row is one observed value: a row of the observations table.
type Row struct {
	Node     string
	TS       time.Time
	Sensor   string
	Feature  string
	Property string
	Value    float64
}

// CSVEncoder appends rows as CSV. It remembers the last timestamp it
// formatted, since consecutive rows mostly share one.
type CSVEncoder struct {
	lastTS   int64
	lastText []byte
}

// AppendRow appends r as one CSV line to b.
func (e *CSVEncoder) AppendRow(b []byte, r *Row) []byte {
	b = appendCSVField(b, r.Node)
	b = append(b, ',')
	b = append(b, e.datetime(r.TS)...)
	b = append(b, ',')
	b = appendCSVField(b, r.Sensor)
	b = append(b, ',')
	b = appendCSVField(b, r.Feature)
	b = append(b, ',')
	b = appendCSVField(b, r.Property)
	b = append(b, ',')
	b = AppendValue(b, r.Value)
	return append(b, '\n')
}

func (e *CSVEncoder) datetime(t time.Time) []byte {
	if s := t.Unix(); s != e.lastTS || e.lastText == nil {
		e.lastTS = s
		e.lastText = t.UTC().AppendFormat(e.lastText[:0], DatetimeLayout)
	}
	return e.lastText
}

// AppendValue appends v as the shortest decimal that reads back as v; NaN
// and infinities, which JSON cannot carry, become empty (null in JSON).
func AppendValue(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return b
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

func appendCSVField(b []byte, s string) []byte {
	needs := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			needs = true
			break
		}
	}
	if !needs {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// ErrBadRow is returned by a JSONWriter fed a line that is not a stored row.
var ErrBadRow = errors.New("schema: malformed stored row")

// JSONWriter turns stored CSV rows, written to it in chunks of any size,
// into Plenario observations: a JSON array, or one object a line for
// NDJSON. Consecutive rows of one reading become one observation. Close
// writes the end; the output is valid JSON for any number of rows, zero
// included.
type JSONWriter struct {
	w       io.Writer
	ndjson  bool
	partial []byte // an unfinished line from the last Write
	out     []byte
	key     []byte // node,datetime,sensor,feature of the open observation
	cand    []byte // the same of the row at hand
	open    bool
	started bool
	n       int64
	fields  [6][]byte
}

// NewJSONWriter returns a JSONWriter writing to w.
func NewJSONWriter(w io.Writer, ndjson bool) *JSONWriter {
	return &JSONWriter{w: w, ndjson: ndjson}
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
	if len(j.out) >= 64<<10 {
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
	if !j.ndjson {
		j.out = append(j.out, "]\n"...)
	}
	return j.flush()
}

func (j *JSONWriter) flush() error {
	_, err := j.w.Write(j.out)
	j.out = j.out[:0]
	return err
}

// row handles one stored line: node,datetime,sensor,feature,property,value.
func (j *JSONWriter) row(line []byte) error {
	if len(line) == 0 {
		return nil
	}
	if err := j.split(line); err != nil {
		return err
	}
	f := &j.fields
	if len(f[5]) > 0 && !isJSONNumber(f[5]) { // copied verbatim into the output
		return ErrBadRow
	}
	j.cand = append(append(append(append(append(append(append(j.cand[:0], f[0]...), 0), f[1]...), 0), f[2]...), 0), f[3]...)
	same := j.open && bytes.Equal(j.cand, j.key)
	if !same {
		j.key, j.cand = j.cand, j.key
	}
	if same {
		j.out = append(j.out, ',')
	} else {
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
		j.out = append(j.out, `{"node":`...)
		j.out = appendJSONString(j.out, f[0])
		j.out = append(j.out, `,"datetime":`...)
		j.out = appendJSONString(j.out, f[1])
		j.out = append(j.out, `,"sensor":`...)
		j.out = appendJSONString(j.out, f[2])
		j.out = append(j.out, `,"feature":`...)
		j.out = appendJSONString(j.out, f[3])
		j.out = append(j.out, `,"results":{`...)
	}
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

// split cuts a stored CSV line into its six fields, unquoting where needed.
func (j *JSONWriter) split(line []byte) error {
	for i := 0; i < 6; i++ {
		if i > 0 {
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
			j.fields[i] = unq
			line = line[k:]
			continue
		}
		k := bytes.IndexByte(line, ',')
		if k < 0 || i == 5 {
			k = len(line)
		}
		j.fields[i] = line[:k]
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

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s []byte) []byte {
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

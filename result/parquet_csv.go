package result

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// ErrBadCSV is returned for a stored CSV line that is not six fields of a
// row (node_id, datetime, sensor, feature, property, value).
var ErrBadCSV = errors.New("result: malformed stored CSV row")

// CSVToParquet reads a part's stored CSV rows (no header) from r and writes
// them to w as one complete Parquet part file, each row's meta_id from
// metaID. It is how a job not exported as Parquet is still fetched as
// Parquet: the download converts its parts one after another.
func CSVToParquet(w io.Writer, r io.Reader, metaID func(node string) float64) (int64, error) {
	pw := NewParquetWriter(w)
	names := map[string]string{} // a part holds a few hundred distinct names
	intern := func(b []byte) string {
		if v, ok := names[string(b)]; ok {
			return v
		}
		s := string(b)
		names[s] = s
		return s
	}
	var rows int64
	err := eachCSVLine(r, func(line []byte) error {
		f, err := splitFrom(line, [6][]byte{}, 0)
		if err != nil {
			return fmt.Errorf("%w: %q", ErrBadCSV, line)
		}
		ts, err := time.ParseInLocation(schema.DatetimeLayout, string(f[1]), time.UTC)
		if err != nil {
			return fmt.Errorf("%w: datetime %q", ErrBadCSV, f[1])
		}
		v, err := parseValue(string(f[5]))
		if err != nil {
			return fmt.Errorf("%w: value %q", ErrBadCSV, f[5])
		}
		node := intern(f[0])
		row := ParquetRow{NodeID: node, Datetime: ts, Sensor: intern(f[2]), Feature: intern(f[3]),
			Property: intern(f[4]), Value: v}
		if metaID != nil {
			row.MetaID = metaID(node)
		}
		rows++
		return pw.Append(row)
	})
	if err != nil {
		return rows, err
	}
	return rows, pw.Close()
}

// eachCSVLine calls fn with each stored line r holds, without its line
// break: cut as the Renderer cuts them (LineEnd), so that a name's line
// break, in quotes, stays the name's (encoding/csv would turn a "\r\n" in
// quotes into "\n"). An empty line is skipped.
func eachCSVLine(r io.Reader, fn func(line []byte) error) error {
	buf := make([]byte, 0, 64<<10)
	for eof := false; !eof; {
		if len(buf) == cap(buf) { // a line longer than the buffer
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			eof = true
		} else if err != nil {
			return err
		}
		at := 0
		for {
			i, _ := LineEnd(buf[at:], false)
			if i < 0 {
				break
			}
			if i > 0 {
				if err := fn(buf[at : at+i]); err != nil {
					return err
				}
			}
			at += i + 1
		}
		buf = buf[:copy(buf, buf[at:])]
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}

// parseValue reads a stored value; an empty one (NaN or an infinity, which
// CSV and JSON leave empty) reads as NaN.
func parseValue(s string) (float64, error) {
	if s == "" {
		return nanValue, nil
	}
	return strconv.ParseFloat(s, 64)
}

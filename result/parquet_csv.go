package result

import (
	"encoding/csv"
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
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 6
	cr.ReuseRecord = true
	pw := NewParquetWriter(w)
	names := map[string]string{} // a part holds a few hundred distinct names
	intern := func(s string) string {
		if v, ok := names[s]; ok {
			return v
		}
		names[s] = s
		return s
	}
	var rows int64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rows, fmt.Errorf("%w: %v", ErrBadCSV, err)
		}
		ts, err := time.ParseInLocation(schema.DatetimeLayout, rec[1], time.UTC)
		if err != nil {
			return rows, fmt.Errorf("%w: datetime %q", ErrBadCSV, rec[1])
		}
		v, err := parseValue(rec[5])
		if err != nil {
			return rows, fmt.Errorf("%w: value %q", ErrBadCSV, rec[5])
		}
		node := intern(rec[0])
		row := ParquetRow{NodeID: node, Datetime: ts, Sensor: intern(rec[2]), Feature: intern(rec[3]),
			Property: intern(rec[4]), Value: v}
		if metaID != nil {
			row.MetaID = metaID(node)
		}
		if err := pw.Append(row); err != nil {
			return rows, err
		}
		rows++
	}
	return rows, pw.Close()
}

// parseValue reads a stored value; an empty one (NaN or an infinity, which
// CSV and JSON leave empty) reads as NaN.
func parseValue(s string) (float64, error) {
	if s == "" {
		return nanValue, nil
	}
	return strconv.ParseFloat(s, 64)
}

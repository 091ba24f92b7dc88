package exporter

import (
	"bytes"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// partSink takes a part's output as it is made: *events.PartWriter.
type partSink interface {
	WriteCSV(p []byte) error
	WriteJSON(p []byte) error
	WriteParquet(r result.ParquetRow) error
}

// encodeFlush is how much of each output encodePart gathers before it
// hands it on: the store compresses in blocks of 256 KiB.
const encodeFlush = 64 << 10

const progressEvery = 1 << 16

// encodePart reads a part's rows and writes them to sink as CSV and, with
// withJSON, as a JSON fragment, each row's value rendered once for both;
// with withParquet, as Parquet rows too.
// Memory stays at a buffer per output plus one driver block; rows are
// pulled from ClickHouse only as fast as the sink takes them. onRow, if
// set, is told the rows so far every progressEvery rows. The JSON gives
// each node the meta_id ids has for it.
func encodePart(it *chstore.RowIter, sink partSink, withJSON, withParquet bool, ids schema.MetaIDs, onRow func(rows int64)) (int64, error) {
	var (
		row     schema.Row
		csvEnc  result.CSVEncoder
		jsonEnc = result.JSONEncoder{MetaIDs: ids}
		rows    int64
		// the node of the last Parquet row and its meta_id
		lastNode string
		lastID   float64
	)
	csv := make([]byte, 0, encodeFlush+1024)
	var json []byte
	if withJSON {
		json = make([]byte, 0, 2*encodeFlush)
	}
	for it.Next(&row) {
		n := len(csv)
		csv = csvEnc.AppendRow(csv, &row)
		if withJSON {
			line := csv[n : len(csv)-1] // the value is the last field
			json = jsonEnc.AppendRowValue(json, &row, line[bytes.LastIndexByte(line, ',')+1:])
			if len(json) >= encodeFlush {
				if err := sink.WriteJSON(json); err != nil {
					return rows, err
				}
				json = json[:0]
			}
		}
		if withParquet {
			if row.Node != lastNode { // rows of a node come together: one look-up each
				lastNode, lastID = row.Node, float64(ids[row.Node])
			}
			if err := sink.WriteParquet(result.ParquetRow{NodeID: row.Node, Datetime: row.TS, MetaID: lastID, Sensor: row.Sensor,
				Feature: row.Feature, Property: row.Property, Value: row.Value}); err != nil {
				return rows, err
			}
		}
		if len(csv) >= encodeFlush {
			if err := sink.WriteCSV(csv); err != nil {
				return rows, err
			}
			csv = csv[:0]
		}
		rows++
		if onRow != nil && rows%progressEvery == 0 {
			onRow(rows)
		}
	}
	if err := it.Err(); err != nil {
		return rows, err
	}
	if err := sink.WriteCSV(csv); err != nil {
		return rows, err
	}
	if withJSON {
		if err := sink.WriteJSON(jsonEnc.Close(json)); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

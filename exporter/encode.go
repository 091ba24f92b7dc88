package exporter

import (
	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// partSink takes a part's output as it is made: *events.PartWriter.
type partSink interface {
	WriteCSV(p []byte) error
	WriteParquet(r result.ParquetRow) error
	// Rendered records the size of the part's JSON fragment and its
	// observations, for its metadata.
	Rendered(jsonBytes, observations int64)
}

// encodeFlush is how much CSV encodePart hands on at a time: two of the
// S2 blocks the store compresses in (256 KiB, events' partBlock), exactly,
// which the S2 writer compresses where they lie; a write of a block or
// less it copies into a buffer of its own first (64 KiB writes: a copy of
// every byte of CSV, 70 a row). The blocks are cut where they were, so the
// stored bytes are the same.
const encodeFlush = 512 << 10

const progressEvery = 1 << 16

// encodePart reads a part's rows and writes them to sink as CSV, the one
// form every part is stored in, and with withParquet as Parquet rows too.
// It counts the bytes of the part's JSON fragment as it goes (PartEncoder,
// exact to the Renderer a JSON download renders it with), so the download
// can announce its length and serve ranges without the JSON being stored.
// Memory stays at a buffer per output plus one driver block; rows are pulled from ClickHouse only as
// fast as the sink takes them. onRow, if set, is told the rows so far
// every progressEvery rows. The JSON and Parquet give each node the
// meta_id ids has for it.
func encodePart(it *chstore.RowIter, sink partSink, withParquet bool, ids schema.MetaIDs, onRow func(rows int64)) (int64, error) {
	var (
		row  schema.Row
		enc  = result.NewPartEncoder(ids)
		rows int64
		// the node of the last Parquet row and its meta_id
		lastNode string
		lastID   float64
	)
	csv := make([]byte, 0, encodeFlush+4096)
	for it.Next(&row) {
		csv = enc.AppendRow(csv, &row)
		if withParquet {
			if row.Node != lastNode { // rows of a node come together: one look-up each
				lastNode, lastID = row.Node, float64(ids[row.Node])
			}
			if err := sink.WriteParquet(result.ParquetRow{NodeID: row.Node, Datetime: row.TS, MetaID: lastID, Sensor: row.Sensor,
				Feature: row.Feature, Property: row.Property, Value: row.Value}); err != nil {
				return rows, err
			}
		}
		for len(csv) >= encodeFlush {
			if err := sink.WriteCSV(csv[:encodeFlush]); err != nil {
				return rows, err
			}
			csv = csv[:copy(csv, csv[encodeFlush:])]
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
	enc.Close()
	sink.Rendered(enc.JSONBytes(), enc.Observations())
	return rows, nil
}

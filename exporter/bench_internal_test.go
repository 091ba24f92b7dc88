package exporter

import (
	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// PartSink is partSink, for the external benchmarks.
type PartSink = partSink

// EncodePartForBench exposes encodePart to the external benchmarks.
func EncodePartForBench(it *chstore.RowIter, sink PartSink, withParquet bool, ids schema.MetaIDs) (int64, error) {
	return encodePart(it, sink, withParquet, ids, nil)
}

package exporter

import (
	"github.com/plenario-next/exportd/chstore"
)

// PartSink is partSink, for the external benchmarks.
type PartSink = partSink

// EncodePartForBench exposes encodePart to the external benchmarks.
func EncodePartForBench(it *chstore.RowIter, sink PartSink, withJSON, withParquet bool) (int64, error) {
	return encodePart(it, sink, withJSON, withParquet, nil)
}

package exporter

import (
	"io"

	"github.com/plenario-next/exportd/chstore"
)

// PartReaderForBench exposes partReader to the external benchmarks: the
// CSV stream of a part, as the object store pulls it.
func PartReaderForBench(it *chstore.RowIter) (r io.Reader, rows func() int64) {
	pr := &partReader{it: it}
	return pr, func() int64 { return pr.rows }
}

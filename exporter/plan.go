// Package exporter runs export jobs: it plans an accepted request into
// partitions (time slices sized from a ClickHouse estimate), and exports
// partitions, any of them in any process, into the result object store,
// reporting each step as an event. It never writes a job document: the
// projector folds its events.
package exporter

import (
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// Planning defaults.
const (
	// DefaultPartRows: a part this size takes about half a second, and it
	// is the size of the parts of a 1M-row job (split in four, for the
	// exporters' sake), so a job of any size is cut into parts of one size
	// and costs in proportion to its rows. At 1M rows a part, a 10M-row job
	// took 10.9 times a 1M-row one (parts twice as long to sort); at 500k,
	// 9.1-11.2 from run to run; at 250k, 8.7. The 20M-row job's 80 parts
	// cost it about 5% against 40.
	DefaultPartRows   = 250_000
	DefaultMaxParts   = 512
	histogramBuckets  = 2048
	minRowsForSplit   = 100_000
	minPartsWhenSplit = 4
)

// planStep is the histogram bucket width for a window: fine enough to cut
// parts evenly, coarse enough to be a cheap query.
func planStep(start, end time.Time) time.Duration {
	step := end.Sub(start) / histogramBuckets
	if step < time.Second {
		step = time.Second
	}
	return step.Truncate(time.Second)
}

// partsFor is how many parts total rows are cut into.
func partsFor(total, partRows int64, maxParts int) int {
	parts := int((total + partRows - 1) / partRows)
	if total >= minRowsForSplit && parts < minPartsWhenSplit {
		parts = minPartsWhenSplit // keep every exporter busy on mid-sized jobs
	}
	return min(parts, maxParts)
}

// Plan cuts [start, end) into consecutive time slices of about partRows
// rows each, following the row histogram. No rows: no parts.
func Plan(start, end time.Time, hist []chstore.Bucket, partRows int64, maxParts int) []schema.PartSpec {
	var total int64
	for _, b := range hist {
		total += b.Rows
	}
	if total == 0 {
		return nil
	}
	parts := partsFor(total, partRows, maxParts)
	if parts > len(hist) {
		parts = len(hist)
	}
	var out []schema.PartSpec
	from := start
	var acc, cut int64
	for i, b := range hist {
		acc += b.Rows
		cut += b.Rows
		last := i == len(hist)-1
		// Close a part when its share is reached, but never split a bucket.
		if !last && acc*int64(parts) < total*int64(len(out)+1) {
			continue
		}
		to := end
		if !last {
			to = hist[i+1].From
		}
		if !to.After(from) {
			continue
		}
		out = append(out, schema.PartSpec{Part: len(out) + 1, From: from, To: to, Estimate: cut})
		from, cut = to, 0
	}
	return out
}

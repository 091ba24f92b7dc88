package exporter

import (
	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// PagedPlan is Plan for a download with a limit or an offset: the parts
// cover exactly rows [offset, offset+limit) of the job's order, as
// Plenario's worker exported at most limit rows. The histogram's counts
// are exact, so the buckets before the offset and past the limit are left
// out, and each part gets the range of its slice's rows it exports: the
// first part skips what of its first bucket lies before the offset, and
// every part takes its count, so the job never exports more than limit
// rows even if rows arrive in its window meanwhile. Its estimates are then
// the rows it exports, and add up to the job's total.
func PagedPlan(q *schema.Query, hist []chstore.Bucket, partRows int64, maxParts int) []schema.PartSpec {
	var total int64
	for _, b := range hist {
		total += b.Rows
	}
	first := int64(q.Offset)
	last := total                                  // rows before last are exported
	if q.Capped() && int64(q.Limit) < last-first { // not first+limit: both may be near MaxInt64
		last = first + int64(q.Limit)
	}
	if first >= last {
		return nil
	}
	var kept []chstore.Bucket
	var skip, seen int64
	start, end := q.Start, q.End
	for i, b := range hist {
		lo, hi := seen, seen+b.Rows // the rows of b are [lo, hi) of the job's order
		seen = hi
		if hi <= first || lo >= last {
			continue
		}
		if len(kept) == 0 {
			skip = max(first-lo, 0)
			if i > 0 && b.From.After(start) {
				start = b.From
			}
		}
		b.Rows = min(hi, last) - max(lo, first)
		kept = append(kept, b)
		if hi >= last && i+1 < len(hist) {
			end = hist[i+1].From // no rows between
			break
		}
	}
	plan := Plan(start, end, kept, partRows, maxParts)
	out := plan[:0]
	for _, s := range plan {
		if s.Estimate <= 0 { // nothing to take: a Take of 0 would take all
			continue
		}
		s.Part, s.Take = len(out)+1, s.Estimate
		if s.Part == 1 {
			s.Skip = skip
		}
		out = append(out, s)
	}
	return out
}

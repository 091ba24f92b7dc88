package chstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/plenario-next/exportd/schema"
)

// ErrOutOfOrder ends a read of OpenStoredSlice whose rows did not come in
// export order: the caller discards what it made of them and reads the
// slice again with OpenSlice, which has ClickHouse sort it.
var ErrOutOfOrder = errors.New("chstore: rows not stored in export order")

// OpenStoredSlice is OpenSlice without ClickHouse's sort where the table's
// own order is the export's: the table is sorted by (network, ts, node_id,
// sensor, feature, property), so a slice of one network read on one
// thread comes out in export order whenever the data parts it lies in do
// not overlap in time and are read oldest first, which is how rows
// arrive (loads attach months in order, live data comes in time order).
// ClickHouse 18.16 cannot read in the key's order itself (it has no
// optimize_read_in_order), and its sort was two thirds of its CPU for an
// export: 0.27 of 0.38 µs a row on the benchmark's table.
//
// Next checks the order as it goes. The first row out of it (parts that
// overlap: late data, a reload) ends the read with ErrOutOfOrder, and
// rows with equal keys keep the order they are stored in, one of the
// orders ORDER BY may give them. Slices it cannot read this way (a
// grouped filter, a skip or take, which count rows in the sorted order)
// are read sorted, as OpenSlice reads them, and never end so.
func (s *Store) OpenStoredSlice(ctx context.Context, q *schema.Query, from, to time.Time, skip, take int64) (*RowIter, error) {
	if grouped(q) || skip > 0 || take > 0 {
		return s.OpenSlice(ctx, q, from, to, skip, take)
	}
	query, args := ExportSliceSQL(q, from, to, 0, 0)
	query, ok := strings.CutSuffix(query, " ORDER BY "+ExportOrder)
	if !ok {
		return nil, schema.Errorf(schema.Internal, "export query without its order: %s", query)
	}
	lists := s.codes.lists(q.Network)
	if lists != nil {
		sel, codeArgs := selectCodes(lists)
		rest, ok := strings.CutPrefix(query, "SELECT node_id, ts, sensor, feature, property, value ")
		if !ok {
			return nil, schema.Errorf(schema.Internal, "export query without its columns: %s", query)
		}
		query, args = sel+rest, append(codeArgs, args...)
	}
	// One thread reads the parts one after the other; more would
	// interleave their blocks.
	it, err := s.openQuery(ctx, q.Network, lists, query+" SETTINGS max_threads = 1", args)
	if err != nil {
		return nil, err
	}
	it.checkOrder = true
	return it, nil
}

// orderKey is the export order's key of the last row read.
type orderKey struct {
	ts                              proto.DateTime
	node, sensor, feature, property string
	set                             bool
}

// inOrder reports whether r, whose time is ts, comes at or after the row
// before it in export order, and makes r the row before the next. The
// strings are the interner's, so equal ones mostly share their bytes and
// compare without a call (same).
func (k *orderKey) inOrder(ts proto.DateTime, r *schema.Row) bool {
	ok := true
	if k.set {
		c := 0
		switch {
		case ts != k.ts:
			c = cmpOrder(ts > k.ts)
		case !same(r.Node, k.node):
			c = cmpOrder(r.Node > k.node)
		case !same(r.Sensor, k.sensor):
			c = cmpOrder(r.Sensor > k.sensor)
		case !same(r.Feature, k.feature):
			c = cmpOrder(r.Feature > k.feature)
		case !same(r.Property, k.property):
			c = cmpOrder(r.Property > k.property)
		}
		ok = c >= 0
	}
	*k = orderKey{ts: ts, node: r.Node, sensor: r.Sensor, feature: r.Feature, property: r.Property, set: true}
	return ok
}

func cmpOrder(after bool) int {
	if after {
		return 1
	}
	return -1
}

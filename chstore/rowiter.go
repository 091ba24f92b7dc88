package chstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/plenario-next/exportd/schema"
)

// exportReadTimeout is how long a block of an export may take to arrive,
// as the driver's ReadTimeout allows any other query.
const exportReadTimeout = 10 * time.Minute

// RowIter reads an export slice row by row, one ClickHouse block in
// memory at a time (a block's columns are reused for the next). It reads
// over a connection of its own (nativeConn): the export is the one query
// whose cost is per row, and there clickhouse-go's Scan made a new string
// of every node, sensor, feature and property, most of the exporter's CPU.
type RowIter struct {
	ctx  context.Context
	c    *nativeConn
	stop func() bool // ends the watch on ctx
	err  error
	done bool

	*block
	i, n int // the next row of the block, its rows

	names          [4]interner // node, sensor, feature, property
	lastTS         proto.DateTime
	lastTime       time.Time
	haveTS, closed bool

	checkOrder bool // rows not sorted by ClickHouse: see OpenStoredSlice
	prev       orderKey

	// the network read, whose names a read spelt out teaches codes, or
	// coded read by them (see nameCodes)
	network string
	codes   *nameCodes
	coded   bool
}

// OpenRows starts reading the rows of q within [from, to) in export order.
func (s *Store) OpenRows(ctx context.Context, q *schema.Query, from, to time.Time) (*RowIter, error) {
	return s.OpenSlice(ctx, q, from, to, 0, 0)
}

// OpenSlice is OpenRows of the rows past the first skip, take at most (0: all).
func (s *Store) OpenSlice(ctx context.Context, q *schema.Query, from, to time.Time, skip, take int64) (*RowIter, error) {
	query, args := ExportSliceSQL(q, from, to, skip, take)
	return s.openQuery(ctx, q.Network, nil, query, args)
}

// openQuery starts reading the rows of an export's SELECT of network,
// its names coded by lists (selectCodes) unless lists is nil.
func (s *Store) openQuery(ctx context.Context, network string, lists *codeLists, query string, args []any) (*RowIter, error) {
	body, err := InlineSQL(query, args)
	if err != nil {
		return nil, schema.Wrap(schema.Internal, "export query", err)
	}
	c, err := dialNative(ctx, s.addr, s.db)
	if err != nil {
		return nil, translate(fmt.Errorf("export connect: %w", err))
	}
	if err := c.query(ctx, body); err != nil {
		c.close()
		return nil, translate(fmt.Errorf("export query: %w", err))
	}
	it := &RowIter{ctx: ctx, c: c, network: network, codes: &s.codes, coded: lists != nil}
	it.block = getBlock(c.br, &it.names, lists)
	// A cancelled job stops at once: the blocked read fails.
	it.stop = context.AfterFunc(ctx, func() { c.close() })
	return it, nil
}

// Next reads the next row into r; false at the end or on an error (see Err).
// r's strings stay valid after the next call, as any Go string does.
func (it *RowIter) Next(r *schema.Row) bool {
	if it.i >= it.n {
		if it.done || it.err != nil || !it.nextBlock() {
			return false
		}
	}
	i := it.i
	it.i++
	r.Node, r.Sensor, r.Feature, r.Property = it.node.vals[i], it.sensor.vals[i], it.feature.vals[i], it.property.vals[i]
	if ts := it.ts.Data[i]; !it.haveTS || ts != it.lastTS {
		it.lastTS, it.lastTime, it.haveTS = ts, time.Unix(int64(ts), 0).UTC(), true
	}
	r.TS = it.lastTime
	r.Value = it.value[i]
	if it.checkOrder && !it.prev.inOrder(it.ts.Data[i], r) {
		it.err = ErrOutOfOrder
		it.Close()
		return false
	}
	return true
}

// nextBlock reads the next block with rows; false at the end or on an error.
func (it *RowIter) nextBlock() bool {
	n, err := 0, it.ctx.Err() // the watch on ctx closes the connection, but not at once
	if err == nil {
		it.c.conn.SetReadDeadline(time.Now().Add(exportReadTimeout))
		n, err = it.c.next(it.cols)
	}
	switch {
	case errors.Is(err, io.EOF):
		it.done = true
		it.Close()
		return false
	case errors.Is(err, ErrUnknownName):
		it.err = ErrUnknownName
		it.codes.forget(it.network)
		it.Close()
		return false
	case err != nil:
		if ctxErr := it.ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		it.err = translate(fmt.Errorf("export read: %w", err))
		it.Close()
		return false
	}
	it.i, it.n = 0, n
	return true
}

// Err is the error that ended the iteration, if any.
func (it *RowIter) Err() error { return it.err }

// Close releases the query; one not read to its end is abandoned. The
// names a read spelt out met are its network's codes from then on.
func (it *RowIter) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	if !it.coded && it.network != "" {
		it.codes.learn(it.network, &it.names)
	}
	it.stop()
	err := it.c.close()
	blocks.Put(it.block)
	it.block = nil
	return err
}

// block is the columns of an export's block, kept for the next export
// when one ends: its columns take a few MB, grown row by row.
type block struct {
	node, sensor, feature, property strCol
	ts                              proto.ColDateTime
	value                           proto.ColFloat64
	cols                            proto.Results
}

var blocks sync.Pool

// getBlock is a block reading from br, its strings interned by names
// (node, sensor, feature, property), or coded by lists if not nil.
func getBlock(br *bufio.Reader, names *[4]interner, lists *codeLists) *block {
	b, _ := blocks.Get().(*block)
	if b == nil {
		b = new(block)
		b.cols = proto.Results{{Data: &b.node}, {Data: &b.ts}, {Data: &b.sensor}, {Data: &b.feature},
			{Data: &b.property}, {Data: &b.value}}
	}
	for i, c := range []*strCol{&b.node, &b.sensor, &b.feature, &b.property} {
		c.br, c.in, c.codes = br, &names[i], nil
		if lists != nil {
			c.codes = lists.cols[i]
		}
	}
	for i := range b.cols { // named by the block's first SELECT, coded or not
		b.cols[i].Name = ""
	}
	return b
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/metrics"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// layoutBody is a download's bytes: segments of a result layout, the
// literal ones as they are and a part's read from the store: CSV and
// Parquet as stored, JSON and NDJSON rendered from the part's stored CSV
// (rendered.go). Nothing is read before start or WriteTo.
type layoutBody struct {
	ctx    context.Context
	bus    *events.Bus
	ticket string
	format string
	ids    schema.MetaIDs
	segs   []result.Segment
	s2     bool // sent as one S2 stream (Content-Encoding: s2; s2.go)
	// conn is the client's connection, whose writes get a deadline
	// (stall.go); nil for a part of a followed download, whose body has it.
	conn net.Conn

	// first is the first part's reader, opened (and past its offset, when
	// stored) by start; the one who sends the part takes it.
	first *events.PartReader
	// ahead is the next part's reader, opened when the one before it was:
	// its first chunks are on their way while that one is sent, so a
	// download does not stall for a round trip or two at every part.
	ahead    *events.PartReader
	aheadSeg int // the segment ahead is for

	piped pipedRead // for readers that Read instead

	metrics *metrics.Registry // counts a stalled client (stall.go)
}

func (g *Gateway) newLayoutBody(ctx context.Context, ticket, format string, ids schema.MetaIDs, segs []result.Segment) *layoutBody {
	return &layoutBody{ctx: ctx, bus: g.bus, ticket: ticket, format: format, ids: ids, segs: segs, aheadSeg: -1, metrics: g.Metrics}
}

// errPartSize is a part whose bytes are not as many as its metadata says:
// the download is cut off rather than sent with a wrong length.
var errPartSize = errors.New("gateway: a part's bytes differ from its recorded size")

func (b *layoutBody) SupportsBodyWriteTo() bool { return true }

// WriteTo writes the segments to w in order.
func (b *layoutBody) WriteTo(w io.Writer) (int64, error) {
	defer b.release()
	if b.conn != nil {
		var undo func()
		w, undo = stalling(w, b.conn, b.metrics)
		defer undo()
	}
	cw := &countingWriter{w: w}
	send := b.sendStored
	switch {
	case b.s2:
		send = b.sendS2
	case result.Rendered(b.format):
		send = b.renderPart
	}
	for i, s := range b.segs {
		if s.Part < 0 {
			lit := s.Literal
			if b.s2 {
				lit = literalS2(lit)
			}
			if _, err := cw.Write(lit); err != nil {
				return cw.n, err
			}
			continue
		}
		r, err := b.take(i)
		if err != nil {
			return cw.n, err
		}
		err = send(cw, s, r)
		r.Close()
		if err != nil {
			return cw.n, err
		}
	}
	return cw.n, nil
}

// start opens the first part to be read, passes over the bytes before its
// offset if it is sent as stored, and waits for its first bytes.
func (b *layoutBody) start() error {
	i := b.nextPart(0)
	if i < 0 || b.first != nil {
		return nil
	}
	r, err := b.open(b.segs[i], !result.Rendered(b.format))
	if err != nil {
		return err
	}
	b.first = r
	return r.Start()
}

// nextPart is the index of the first part segment from i on; -1: none.
func (b *layoutBody) nextPart(i int) int {
	for ; i < len(b.segs); i++ {
		if b.segs[i].Part >= 0 {
			return i
		}
	}
	return -1
}

// open opens s's part in the form its bytes are read from (its Parquet
// file for Parquet, else its CSV), past s's offset with skip.
func (b *layoutBody) open(s result.Segment, skip bool) (*events.PartReader, error) {
	open := b.bus.OpenPart
	if b.format == schema.FormatParquet {
		open = b.bus.OpenPartParquet
	}
	r, err := open(b.ctx, b.ticket, s.Part+1)
	if err != nil {
		return nil, err
	}
	if skip && s.Offset > 0 {
		// Chunks arrive in order; the bytes before the offset are received
		// and passed over.
		if err := r.Skip(s.Offset); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// take returns the reader of segment i: the one start opened, the one
// opened ahead, or a new one; and opens the next part's ahead.
func (b *layoutBody) take(i int) (*events.PartReader, error) {
	r := b.first
	b.first = nil
	if r == nil && b.aheadSeg == i {
		r, b.ahead, b.aheadSeg = b.ahead, nil, -1
		if off := b.segs[i].Offset; off > 0 && !result.Rendered(b.format) {
			if err := r.Skip(off); err != nil {
				r.Close()
				return nil, err
			}
		}
	}
	if r == nil {
		var err error
		if r, err = b.open(b.segs[i], !result.Rendered(b.format)); err != nil {
			return nil, err
		}
	}
	if k := b.nextPart(i + 1); k >= 0 && b.ahead == nil {
		if a, err := b.open(b.segs[k], false); err == nil { // a failure is met again when it is its turn
			b.ahead, b.aheadSeg = a, k
		}
	}
	return r, nil
}

// sendStored sends a part's segment as stored, straight from its chunks
// to w when it is sent to its end.
func (b *layoutBody) sendStored(w io.Writer, s result.Segment, r *events.PartReader) error {
	var n int64
	var err error
	if s.ToEnd {
		n, err = r.WriteTo(w)
	} else {
		n, err = io.CopyN(w, r, s.Len)
	}
	if err == nil && s.Len >= 0 && n != s.Len {
		err = fmt.Errorf("%w: part %d sent %d bytes, want %d", errPartSize, s.Part+1, n, s.Len)
	}
	return err
}

func (b *layoutBody) Read(p []byte) (int, error) {
	return b.piped.read(p, b.WriteTo, nil)
}

// Close stops the download; the parts opened and not sent are released
// by WriteTo as it returns, or here if it never ran.
func (b *layoutBody) Close() error {
	if b.piped.stop() { // the goroutine of Read returns
		return nil
	}
	b.release()
	return nil
}

func (b *layoutBody) release() {
	for _, r := range []**events.PartReader{&b.first, &b.ahead} {
		if *r != nil {
			(*r).Close()
			*r = nil
		}
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

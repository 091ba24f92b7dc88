package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/result"
)

// A JSON or NDJSON download is rendered from the parts' stored CSV as it
// is sent, by the renderer the exporter counted its size with
// (result.Renderer), so it has the length, ETag and ranges a stored file
// would. Rendering is the download's bottleneck, a core's worth per part:
// parts are rendered on renderWorkers goroutines each, ahead of the
// connection (a reading's rows are never split between parts: parts are
// time slices), and their output written in order. A part ahead holds at
// most renderAhead buffers: memory stays bounded whatever the job's size.

// How many parts a download renders at once, and how many 256 KiB buffers
// of output each may hold ahead of the connection.
var renderWorkers = min(runtime.GOMAXPROCS(0), 4)

const renderAhead = 8

// writeRendered writes the segments, the parts' rendered on workers.
func (b *layoutBody) writeRendered(w io.Writer) error {
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	outs := make([]chan *[]byte, len(b.segs)) // of part segments
	errs := make([]error, len(b.segs))        // segment i's, set before outs[i] is closed
	for i, s := range b.segs {
		if s.Part >= 0 {
			outs[i] = make(chan *[]byte, renderAhead)
		}
	}
	first := b.first // opened by start, if it ran
	b.first = nil
	slots := make(chan struct{}, renderWorkers) // a slot is freed when its part is sent
	go func() {
		for i, s := range b.segs {
			if s.Part < 0 {
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				if first != nil {
					first.Close()
				}
				return
			}
			r := first
			first = nil
			go func() {
				defer close(outs[i])
				errs[i] = b.renderPart(ctx, s, r, outs[i])
			}()
		}
	}()
	for i, s := range b.segs {
		if s.Part < 0 {
			if _, err := w.Write(s.Literal); err != nil {
				return err
			}
			continue
		}
		for buf := range outs[i] {
			_, err := w.Write(*buf)
			renderBuffers.Put(buf)
			if err != nil {
				return err
			}
		}
		if errs[i] != nil {
			return errs[i]
		}
		<-slots
	}
	return nil
}

// renderPart sends segment s of its part's rendering to out: from r, the
// part's reader if opened already, else from a reader of its own.
func (b *layoutBody) renderPart(ctx context.Context, s result.Segment, r *events.PartReader, out chan<- *[]byte) error {
	if r == nil {
		var err error
		if r, err = b.bus.OpenPart(ctx, b.ticket, s.Part+1); err != nil {
			return err
		}
	}
	defer r.Close()
	win := &window{w: chanWriter{ctx: ctx, out: out}, skip: s.Offset, left: s.Len, exact: s.ToEnd}
	fw := result.NewFragmentWriter(win, b.format, b.ids)
	_, err := r.WriteTo(fw)
	if err == nil {
		err = fw.Close()
	}
	if errors.Is(err, errWindowFull) {
		return nil // the range ends inside the part
	}
	if err == nil && win.exact && win.left > 0 {
		err = errPartSize
	}
	if errors.Is(err, errPartSize) {
		return fmt.Errorf("part %d: %w: rendered %d bytes short", s.Part+1, err, win.left)
	}
	return err
}

// errWindowFull stops a part's rendering once its segment is sent.
var errWindowFull = errors.New("gateway: segment sent")

// window passes on the bytes of a segment of what is written to it: skip
// bytes are dropped, then left are passed (all of them when left is -1).
// With exact, the segment runs to the part's end: a byte past it is an
// error (errPartSize), as is one missing (left > 0 at the end).
type window struct {
	w     io.Writer
	skip  int64
	left  int64
	exact bool
}

func (x *window) Write(p []byte) (int, error) {
	n := len(p)
	if x.skip > 0 {
		k := min(x.skip, int64(len(p)))
		p, x.skip = p[k:], x.skip-k
	}
	full := false
	if x.left >= 0 && int64(len(p)) >= x.left {
		if int64(len(p)) > x.left && x.exact {
			return 0, errPartSize
		}
		p, full = p[:x.left], !x.exact
	}
	if x.left >= 0 {
		x.left -= int64(len(p))
	}
	if len(p) > 0 {
		if _, err := x.w.Write(p); err != nil {
			return 0, err
		}
	}
	if full {
		return n, errWindowFull
	}
	return n, nil
}

// chanWriter sends a copy of each write to out, in a buffer of
// renderBuffers that the receiver puts back.
type chanWriter struct {
	ctx context.Context
	out chan<- *[]byte
}

var renderBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

func (c chanWriter) Write(p []byte) (int, error) {
	buf := renderBuffers.Get().(*[]byte)
	*buf = append((*buf)[:0], p...)
	select {
	case c.out <- buf:
		return len(p), nil
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}

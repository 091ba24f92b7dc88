package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// A JSON or NDJSON download is rendered from the parts' stored CSV as it
// is sent, by the renderer the exporter counted its size with
// (result.Renderer), so it has the length, ETag and ranges a stored file
// would. Rendering is the largest part of the download's CPU (about half
// of the gateway's in a 20 M-row profile, against a fifth for S2 decoding
// and a sixth for the socket's writes): each part's CSV is cut into
// chunks, rendered on renderWorkers goroutines at once, and their output
// written in order. A chunk is cut only where a line's node and datetime
// differ from the line before (so no observation spans two chunks): a
// fresh (or Reset) Renderer then makes of each chunk exactly what one
// Renderer makes of the whole part.
// At most renderAhead chunks are in flight: memory stays a few MB whatever
// the job's size, and a part's own rendering, not only the next part's,
// uses every core.

// How many chunks a download renders at once, how many may wait to be
// sent, and how much CSV a chunk holds.
var renderWorkers = min(runtime.GOMAXPROCS(0), 4)

const renderAhead = 4

// renderChunk is the CSV bytes of a chunk (a variable: a test makes it
// small, to cut parts into many chunks).
var renderChunk atomic.Int64

func init() { renderChunk.Store(256 << 10) }

// chunk is a run of a part's CSV lines being rendered; done gets its
// output (or error) once.
type chunk struct {
	in   *[]byte
	out  *[]byte
	err  error
	done chan struct{}
}

var chunkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 384<<10); return &b }}

// renderPart writes segment s of its part's rendering, read from r, to w.
func (b *layoutBody) renderPart(w io.Writer, s result.Segment, r *events.PartReader) error {
	return b.render(w, s, r)
}

// render writes segment s of the rendering of the CSV r reads to w.
func (b *layoutBody) render(w io.Writer, s result.Segment, r io.Reader) error {
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	tasks := make(chan *chunk)
	order := make(chan *chunk, renderAhead)
	var wg sync.WaitGroup
	for range renderWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One Renderer a worker, Reset for each chunk, keeps the pieces it
			// made of the part's names: a new one a chunk made them again, a
			// node's head for each of ~100 nodes a 256 KiB chunk
			// (BenchmarkRenderChunks: fresh 88-130, reset 56-80 CPU ns a row).
			r := &result.Renderer{MetaIDs: b.ids, NDJSON: b.format == schema.FormatNDJSON}
			for c := range tasks {
				c.out = chunkBuffers.Get().(*[]byte)
				c.err = renderLines(r, c)
				close(c.done)
			}
		}()
	}
	var readErr error
	go func() {
		defer close(order)
		defer close(tasks)
		if br, ok := r.(blockReader); ok {
			readErr = cutBlocks(ctx, br, tasks, order)
		} else {
			readErr = cutChunks(ctx, r, tasks, order)
		}
	}()
	defer func() { // no worker is left holding a chunk
		cancel()
		for c := range order {
			<-c.done
			chunkBuffers.Put(c.in)
			chunkBuffers.Put(c.out)
		}
		wg.Wait()
	}()
	win := &window{w: w, skip: s.Offset, left: s.Len, exact: s.ToEnd}
	for c := range order {
		<-c.done
		err := c.err
		if err == nil {
			_, err = win.Write(*c.out)
		}
		chunkBuffers.Put(c.in)
		chunkBuffers.Put(c.out)
		if errors.Is(err, errWindowFull) {
			return nil // the range ends inside the part
		}
		if err != nil {
			return partSizeError(s, err, win)
		}
	}
	if readErr != nil {
		return readErr
	}
	if win.exact && win.left > 0 {
		return partSizeError(s, errPartSize, win)
	}
	return nil
}

func partSizeError(s result.Segment, err error, win *window) error {
	if errors.Is(err, errPartSize) {
		return fmt.Errorf("part %d: %w (%d bytes left)", s.Part+1, err, win.left)
	}
	return err
}

// renderLines renders c's lines with r, Reset: as a Renderer of their own
// would.
func renderLines(r *result.Renderer, c *chunk) error {
	r.Reset()
	out, err := r.AppendLines((*c.out)[:0], *c.in)
	*c.out = r.Close(out)
	return err
}

// cutChunks reads r's CSV into chunks, each cut where cutAt says, and
// hands each to tasks (to be rendered) and, in order, to order (to be
// sent), until r ends.
func cutChunks(ctx context.Context, r io.Reader, tasks, order chan<- *chunk) error {
	var carry []byte // the lines after the last cut, for the next chunk
	size := int(renderChunk.Load())
	for {
		in := chunkBuffers.Get().(*[]byte)
		if cap(*in) < len(carry)+size {
			*in = make([]byte, 0, len(carry)+size)
		}
		buf := append((*in)[:0], carry...)
		n, err := io.ReadFull(r, buf[len(buf):size+len(carry)])
		buf = buf[:len(buf)+n]
		end := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !end {
			chunkBuffers.Put(in)
			return err
		}
		cut := len(buf)
		if !end {
			if cut = cutAt(buf); cut == 0 { // no place to cut yet: read on
				carry = append(carry[:0], buf...)
				chunkBuffers.Put(in)
				continue
			}
		}
		carry = append(carry[:0], buf[cut:]...)
		*in = buf[:cut]
		if err := handOn(ctx, &chunk{in: in, done: make(chan struct{})}, tasks, order); err != nil {
			return err
		}
		if end {
			return nil
		}
	}
}

// blockReader is a part read a block at a time, each decoded straight
// into the buffer it is appended to (events.PartReader.AppendBlock).
type blockReader interface {
	AppendBlock(dst []byte) ([]byte, error)
}

// cutBlocks is cutChunks for a part read a block at a time: its blocks
// are decoded into the chunks' buffers, not copied there from the
// decoder's (the copy was 0.25 s of the gateway's 3.85 s of CPU in a
// 20 M-row JSON download's profile). A chunk is at least renderChunk bytes
// (a block, 256 KiB, and what was carried) when it can be, cut as
// cutChunks cuts; what is left after the cut, usually the fewer bytes, is
// copied into the next chunk's buffer; when a chunk is the fewer (a test's
// small chunks), it is the one copied out.
func cutBlocks(ctx context.Context, r blockReader, tasks, order chan<- *chunk) error {
	size := int(renderChunk.Load())
	in := chunkBuffers.Get().(*[]byte)
	buf := (*in)[:0]
	end := false
	for {
		for !end && len(buf) < size {
			var err error
			if buf, err = r.AppendBlock(buf); err == io.EOF {
				end = true
			} else if err != nil {
				chunkBuffers.Put(in)
				return err
			}
		}
		cut := len(buf)
		if !end || len(buf) > size {
			if cut = cutWithin(buf, size); cut == 0 {
				if !end { // no place to cut yet: read on
					size += int(renderChunk.Load())
					continue
				}
				cut = len(buf)
			}
		}
		c := &chunk{done: make(chan struct{})}
		if rest := buf[cut:]; len(rest) < cut {
			next := chunkBuffers.Get().(*[]byte)
			*next = append((*next)[:0], rest...)
			*in, c.in = buf[:cut], in
			in, buf = next, *next
		} else {
			c.in = chunkBuffers.Get().(*[]byte)
			*c.in = append((*c.in)[:0], buf[:cut]...)
			buf = rest
		}
		size = int(renderChunk.Load())
		if err := handOn(ctx, c, tasks, order); err != nil {
			chunkBuffers.Put(in)
			return err
		}
		if end && len(buf) == 0 {
			chunkBuffers.Put(in)
			return nil
		}
	}
}

// cutWithin is cutAt of b's first size bytes (of all of b when it holds
// less than twice as many: a chunk of a block and what was carried), or of
// as many more as it takes to find a cut; 0 if b has none.
func cutWithin(b []byte, size int) int {
	if len(b) < 2*size {
		return cutAt(b)
	}
	for e := size; ; e += size {
		if e >= len(b) {
			return cutAt(b)
		}
		if cut := cutAt(b[:e]); cut > 0 {
			return cut
		}
	}
}

// handOn hands c to order (to be sent) and tasks (to be rendered).
func handOn(ctx context.Context, c *chunk, tasks, order chan<- *chunk) error {
	select {
	case order <- c:
	case <-ctx.Done():
		chunkBuffers.Put(c.in)
		return ctx.Err()
	}
	select {
	case tasks <- c:
	case <-ctx.Done():
		c.err = ctx.Err()
		c.out = chunkBuffers.Get().(*[]byte)
		close(c.done)
		return ctx.Err()
	}
	return nil
}

// cutAt is where b, CSV lines of which the last may be unfinished, may be
// cut: the start of a line whose "node,datetime," (as raw bytes, up to its
// second comma) differs from the line's before it, the last such within
// the last 64 lines; 0 if there is none. Plain or quoted, one value is
// always spelt the same, so raw bytes that differ are values that differ,
// and the two lines are of different readings. A line break in quotes is
// a name's, no line's end: b holding a quote, its lines are found from its
// start (cutQuoted).
func cutAt(b []byte) int {
	if bytes.IndexByte(b, '"') >= 0 {
		return cutQuoted(b)
	}
	next := -1 // the start of the line after the one looked at
	at := len(b)
	for range 64 {
		i := bytes.LastIndexByte(b[:at], '\n')
		if i < 0 {
			return 0
		}
		start := i + 1
		if next >= 0 {
			if p, q := prefix2(b[start:next]), prefix2(b[next:]); p > 0 && q > 0 && !bytes.Equal(b[start:start+p], b[next:next+q]) {
				return next
			}
		}
		next, at = start, i
	}
	return 0
}

// cutQuoted is cutAt for b holding quotes, b beginning a line (a chunk
// begins at a cut): its lines' starts are found from its start, quotes
// respected (result.LineEnd), and the last 65 are compared as cutAt does.
func cutQuoted(b []byte) int {
	var starts [65]int
	n := 0
	for at := 0; ; {
		i, _ := result.LineEnd(b[at:], false)
		if i < 0 {
			break
		}
		at += i + 1
		starts[n%len(starts)] = at
		n++
	}
	for k := n - 1; k >= 1 && k > n-len(starts); k-- {
		next, start := starts[k%len(starts)], starts[(k-1)%len(starts)]
		if p, q := prefix2(b[start:next]), prefix2(b[next:]); p > 0 && q > 0 && !bytes.Equal(b[start:start+p], b[next:next+q]) {
			return next
		}
	}
	return 0
}

// prefix2 is the length of line up to and including its second comma; 0
// if it has fewer.
func prefix2(line []byte) int {
	i := bytes.IndexByte(line, ',')
	if i < 0 {
		return 0
	}
	j := bytes.IndexByte(line[i+1:], ',')
	if j < 0 {
		return 0
	}
	return i + j + 2
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

package gateway

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/schema"
)

// datadump streams a finished job's file: its parts in order, never a whole
// part in memory. CSV is stored, and JSON too unless the exporter was told
// not to store it; NDJSON is made from the stored JSON on the fly, and JSON
// and NDJSON of parts stored without JSON from the CSV.
//
// A stored download honours Range and If-Range, so a client resumes a
// broken download where it stopped; a range is found by skipping whole
// parts by their stored sizes, then reading past the rest of the offset in
// one part. A download made on the fly has no ranges (Accept-Ranges: none)
// and no length. With Accept-Encoding: gzip the stream is compressed as it
// goes, and has no length and no ranges; a request with a Range gets the
// identity bytes it asks for instead, since a range is of those.
func (g *Gateway) datadump(ctx *fasthttp.RequestCtx, p []string) error {
	ticket := p[0]
	format := "" // the job's data_type unless the request names one
	pr := schema.Problems{}
	ctx.QueryArgs().VisitAll(func(k, v []byte) {
		switch string(k) {
		case "data_type":
			format = strings.ToLower(string(v))
			if !schema.IsFormat(format) {
				pr.Add("data_type", schema.MsgDataType)
			}
		case "follow": // followAsked reads it
			if !followValue(string(v)) {
				pr.Add("follow", msgFollow)
			}
		default:
			pr.Add(string(k), schema.MsgNotAFilter)
		}
	})
	if err := pr.Err(); err != nil {
		return err
	}
	rec, err := g.job(ctx, ticket)
	if err != nil {
		return err
	}
	if !rec.Terminal() && followAsked(ctx) {
		return g.followDump(ctx, rec, format) // follow.go
	}
	if rec.Job.Status.Status != schema.StatusSuccess {
		return g.notReady(ctx, rec)
	}
	if format == "" {
		format = rec.Job.Request.Query.DataType
	}
	if format == "" { // nothing asked at submit either: JSON, as Plenario's
		format = schema.FormatJSON
	}
	sh := newDumpShape(rec)

	h := &ctx.Response.Header
	// The stored sizes, not the events' sum: Content-Length and ranges
	// must be those of the bytes served, and a part gone from the store is
	// better told now than as a truncated body.
	infos, err := g.partInfos(ctx, rec)
	if err != nil {
		return err
	}
	if format == schema.FormatParquet {
		return g.parquetDump(ctx, rec, infos)
	}
	var stored *storedFile
	size := int64(len(schema.CSVHeader)) + rec.DoneBytes // names a file made on the fly
	if format == schema.FormatCSV || format == schema.FormatJSON && storedJSON(infos) {
		stored = newStoredFile(format, infos, sh)
		size = stored.size()
	}
	// A file made on the fly is made of the stored JSON when there is.
	fromJSON := format == schema.FormatNDJSON && storedJSON(infos)
	g.dumpHeaders(ctx, rec, format)
	h.Set("Vary", "Accept-Encoding")

	// A job's result never changes once it has succeeded, so its ticket,
	// format and size name these bytes exactly: a strong validator.
	etag := `"` + ticket + "-" + format + "-" + strconv.FormatInt(size, 36) + `"`
	rangeHdr := string(ctx.Request.Header.Peek("Range"))
	ranged := stored != nil && rangeHdr != "" && ifRangeHolds(string(ctx.Request.Header.Peek("If-Range")), etag, rec.Finished)
	gz := !ranged && acceptsGzip(string(ctx.Request.Header.Peek("Accept-Encoding")))
	if gz {
		// The same bytes compressed are another representation; gzip output
		// depends on the compressor, so a weak validator.
		etag = `W/"` + ticket + "-" + format + "-" + strconv.FormatInt(size, 36) + `-gzip"`
	}
	h.Set("ETag", etag)
	if stored != nil && !gz {
		h.Set("Accept-Ranges", "bytes")
	} else {
		h.Set("Accept-Ranges", "none")
	}
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && etagListMatches(string(inm), etag, false) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}

	bg := context.WithoutCancel(ctx)
	switch {
	case gz:
		h.Set("Content-Encoding", "gzip")
		if ctx.IsHead() {
			return nil
		}
		var body io.ReadCloser
		if stored != nil {
			body = g.storedRange(bg, ticket, stored, 0, size)
		} else {
			body = g.transcoded(bg, ticket, infos, fromJSON)
		}
		if err := startDownload(ctx, body); err != nil {
			return err
		}
		gb := &gzipBody{body: body, logger: g.logger, ticket: ticket}
		if stored == nil {
			gb.transcode = func(w io.Writer, body io.Reader) error { return sh.transcode(w, body, format, fromJSON) }
		}
		ctx.SetBodyStream(gb, -1)
	case stored != nil:
		start, end := int64(0), size
		if ranged {
			var answered bool
			if start, end, answered = answerRange(ctx, rangeHdr, size); answered {
				return nil
			}
		}
		body := g.storedRange(bg, ticket, stored, start, end)
		if !ctx.IsHead() {
			if err := startDownload(ctx, body); err != nil {
				return err
			}
		}
		ctx.SetBodyStream(body, int(end-start))
	default:
		if ctx.IsHead() {
			return nil
		}
		body := &jsonBody{parts: g.transcoded(bg, ticket, infos, fromJSON), ndjson: format == schema.FormatNDJSON, fromJSON: fromJSON, shape: sh}
		if err := startDownload(ctx, body); err != nil {
			return err
		}
		ctx.SetBodyStream(body, -1)
	}
	return nil
}

// dumpHeaders sets the headers every download of rec as format has.
func (g *Gateway) dumpHeaders(ctx *fasthttp.RequestCtx, rec *schema.JobRecord, format string) {
	h := &ctx.Response.Header
	h.Set("Content-Disposition", "attachment; filename="+rec.Job.Request.Query.Network+".datadump."+format)
	h.Set("Cache-Control", cacheControl(rec, g.Now()))
	if exp, ok := expiresAt(rec); ok {
		h.Set("Expires", httpDate(exp))
	}
	if !rec.Finished.IsZero() {
		h.Set("Last-Modified", httpDate(rec.Finished))
	}
	h.Set("X-Row-Count", strconv.FormatInt(rec.DoneRows, 10))
	ctx.SetContentType(schema.MediaType(format))
}

// storedFile is a download sent as stored: head, the bytes of the parts'
// objects one after the other from offset from on, and tail. For CSV the
// head is the header line; for JSON, the fragments' first byte is left out
// and they go in the envelope (dumpShape), as after result.JSONHead.
type storedFile struct {
	json       bool // the parts' JSON fragments, not their CSV
	head, tail string
	from       int64
	sizes      []int64
}

func newStoredFile(format string, infos []partInfo, sh *dumpShape) *storedFile {
	f := &storedFile{json: format == schema.FormatJSON}
	f.sizes = partSizes(infos, f.json)
	var total int64
	for _, s := range f.sizes {
		total += s
	}
	if f.json {
		f.head, f.tail, f.from = sh.head, sh.tail, min(total, 1)
	} else {
		f.head = schema.CSVHeader
	}
	return f
}

func (f *storedFile) size() int64 {
	n := int64(len(f.head)+len(f.tail)) - f.from
	for _, s := range f.sizes {
		n += s
	}
	return n
}

// transcoded reads the parts a download is made of on the fly: their JSON
// fragments with fromJSON, else their CSV.
func (g *Gateway) transcoded(ctx context.Context, ticket string, infos []partInfo, fromJSON bool) *partsReader {
	return &partsReader{ctx: ctx, bus: g.bus, ticket: ticket, parts: len(infos), sizes: partSizes(infos, fromJSON), json: fromJSON}
}

// partSizes are the sizes of the parts' CSV, or of their JSON fragments.
func partSizes(infos []partInfo, json bool) []int64 {
	sizes := make([]int64, len(infos))
	for i, in := range infos {
		sizes[i] = in.size
		if json {
			sizes[i] = in.jsonSize
		}
	}
	return sizes
}

// jsonBody is a JSON or NDJSON download made from the stored parts as it
// is sent: NDJSON of their JSON fragments (fromJSON), or either of their
// CSV rows. fasthttp frames its WriteTo output straight into chunks, so
// the parts' chunks go through the transcoder to the connection with no
// pipe or goroutine between.
type jsonBody struct {
	parts    *partsReader
	ndjson   bool
	fromJSON bool
	shape    *dumpShape

	// for readers that Read instead
	jw   io.WriteCloser
	out  bytes.Buffer
	buf  []byte
	done bool
}

func (b *jsonBody) SupportsBodyWriteTo() bool { return true }

// WriteTo transcodes the parts on jsonWorkers goroutines, each part on its
// own (a reading's rows are never split between parts: parts are time
// slices), ahead of the connection, and writes their output in order as
// one JSONWriter would have. Transcoding is the download's bottleneck, one
// core's worth; the parts ahead hold at most jsonAhead buffers each.
func (b *jsonBody) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	if b.fromJSON { // a copy, nearly: no need of more cores
		err := b.shape.transcode(cw, b.parts, schema.FormatNDJSON, true)
		return cw.n, err
	}
	n := b.parts.parts
	ctx, cancel := context.WithCancel(b.parts.ctx)
	defer cancel()
	outs := make([]chan *[]byte, n)
	errs := make([]error, n) // part i's, set before outs[i] is closed
	for i := range outs {
		outs[i] = make(chan *[]byte, jsonAhead)
	}
	slots := make(chan struct{}, jsonWorkers) // a slot is freed when its part is sent
	go func() {
		for i := range n {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer close(outs[i])
				errs[i] = b.transcodePart(ctx, i+1, outs[i])
			}()
		}
	}()
	if !b.ndjson {
		if _, err := io.WriteString(cw, b.shape.head); err != nil {
			return cw.n, err
		}
	}
	wrote := false
	for i := range n {
		first := true
		for buf := range outs[i] {
			if first && wrote && !b.ndjson {
				if _, err := cw.Write([]byte{','}); err != nil {
					return cw.n, err
				}
			}
			first, wrote = false, true
			_, err := cw.Write(*buf)
			jsonBuffers.Put(buf)
			if err != nil {
				return cw.n, err
			}
		}
		if errs[i] != nil {
			return cw.n, errs[i]
		}
		<-slots
	}
	if !b.ndjson {
		if _, err := io.WriteString(cw, b.shape.tail); err != nil {
			return cw.n, err
		}
	}
	return cw.n, nil
}

// How many parts a JSON download transcodes at once, and how many 64 KiB
// buffers of output each may hold ahead of the connection.
var jsonWorkers = min(runtime.GOMAXPROCS(0), 4)

const jsonAhead = 16

// transcodePart sends part's observations, as a JSON fragment, to out.
func (b *jsonBody) transcodePart(ctx context.Context, part int, out chan<- *[]byte) error {
	r, err := b.parts.bus.OpenPart(ctx, b.parts.ticket, part)
	if err != nil {
		return err
	}
	defer r.Close()
	jw := b.shape.fragmentWriter(chanWriter{ctx: ctx, out: out}, b.ndjson)
	if _, err := r.WriteTo(jw); err != nil {
		return err
	}
	return jw.Close()
}

// chanWriter sends a copy of each write to out, in a buffer of
// jsonBuffers that the receiver puts back.
type chanWriter struct {
	ctx context.Context
	out chan<- *[]byte
}

var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

func (c chanWriter) Write(p []byte) (int, error) {
	buf := jsonBuffers.Get().(*[]byte)
	*buf = append((*buf)[:0], p...)
	select {
	case c.out <- buf:
		return len(p), nil
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}

func (b *jsonBody) Read(p []byte) (int, error) {
	if b.jw == nil {
		format := schema.FormatJSON
		if b.ndjson {
			format = schema.FormatNDJSON
		}
		b.jw = b.shape.transcoder(&b.out, format, b.fromJSON)
		b.buf = make([]byte, 64<<10)
	}
	for b.out.Len() == 0 && !b.done {
		n, err := b.parts.Read(b.buf)
		if n > 0 {
			if _, werr := b.jw.Write(b.buf[:n]); werr != nil {
				return 0, werr
			}
		}
		if err == io.EOF {
			b.done = true
			if cerr := b.jw.Close(); cerr != nil {
				return 0, cerr
			}
		} else if err != nil {
			return 0, err
		}
	}
	if b.out.Len() == 0 {
		return 0, io.EOF
	}
	return b.out.Read(p)
}

func (b *jsonBody) Close() error { return b.parts.Close() }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// storedRange returns bytes [start, end) of a stored download. Parts before
// start are skipped by their sizes without being opened.
func (g *Gateway) storedRange(ctx context.Context, ticket string, f *storedFile, start, end int64) io.ReadCloser {
	pr := &partsReader{ctx: ctx, bus: g.bus, ticket: ticket, parts: len(f.sizes), sizes: f.sizes, json: f.json, next: len(f.sizes)}
	hl := int64(len(f.head))
	pos, off := f.from+max(0, start-hl), int64(0) // where start lies in the parts' bytes
	for i, s := range f.sizes {
		if pos < off+s {
			pr.next, pr.skip = i, pos-off
			break
		}
		off += s
	}
	head := f.head[min(start, hl):]
	tail := f.tail[max(0, start-(f.size()-int64(len(f.tail)))):]
	if start == 0 && end == f.size() {
		return &wholeFile{Reader: io.MultiReader(strings.NewReader(head), pr, strings.NewReader(tail)), head: head, tail: tail, parts: pr}
	}
	return readCloser{io.LimitReader(io.MultiReader(strings.NewReader(head), pr, strings.NewReader(tail)), end-start), pr}
}

// wholeFile is a whole stored download: fasthttp copies it with WriteTo, so
// the parts' blocks go to the connection without an intermediate buffer.
type wholeFile struct {
	io.Reader  // head, parts, tail, for readers that Read
	head, tail string
	parts      *partsReader
	started    bool
}

func (c *wholeFile) Read(p []byte) (int, error) {
	c.started = true
	return c.Reader.Read(p)
}

func (c *wholeFile) WriteTo(w io.Writer) (int64, error) {
	if c.started {
		return io.Copy(w, c.Reader)
	}
	c.started = true
	n, err := io.WriteString(w, c.head)
	if err != nil {
		return int64(n), err
	}
	m, err := c.parts.WriteTo(w)
	if err != nil {
		return int64(n) + m, err
	}
	k, err := io.WriteString(w, c.tail)
	return int64(n) + m + int64(k), err
}

func (c *wholeFile) Close() error { return c.parts.Close() }

type readCloser struct {
	io.Reader
	io.Closer
}

// partsReader reads a job's parts one after another, opening each when the
// previous one ends: their CSV, or with json their JSON fragments. It
// starts at part next+1, skip bytes into it. Parts that sizes says are
// empty are passed over without being opened (an empty JSON fragment is
// not stored).
type partsReader struct {
	ctx    context.Context
	bus    *events.Bus
	ticket string
	parts  int
	sizes  []int64 // of the parts read, when known
	json   bool
	next   int   // the next part to open, from 0
	skip   int64 // bytes to pass over in the first part opened
	cur    *events.PartReader
	// ahead is the part after cur, opened when cur was: its consumer is
	// made and its first chunks are on their way while cur is sent, so a
	// download does not stall for a round trip or two at every part.
	ahead    *events.PartReader
	aheadErr error
}

// open makes cur the next part, and opens the one after it.
func (r *partsReader) open() error {
	cur, err := r.ahead, r.aheadErr
	r.ahead, r.aheadErr = nil, nil
	if cur == nil && err == nil {
		cur, err = r.openPart(r.next + 1)
	}
	if err != nil {
		return err
	}
	r.next++
	r.cur = cur
	if k := r.nonEmpty(r.next); k < r.parts {
		r.ahead, r.aheadErr = r.openPart(k + 1)
	}
	return nil
}

// nonEmpty is the first part from i on, from 0, that may hold bytes.
func (r *partsReader) nonEmpty(i int) int {
	for i < r.parts && i < len(r.sizes) && r.sizes[i] == 0 {
		i++
	}
	return i
}

func (r *partsReader) openPart(part int) (*events.PartReader, error) {
	if r.json {
		return r.bus.OpenPartJSON(r.ctx, r.ticket, part)
	}
	return r.bus.OpenPart(r.ctx, r.ticket, part)
}

func (r *partsReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.next = r.nonEmpty(r.next); r.next >= r.parts {
				return 0, io.EOF
			}
			if err := r.openAt(); err != nil {
				return 0, err
			}
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// WriteTo writes the rest of the parts to w chunk by chunk.
func (r *partsReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if r.cur == nil {
			if r.next >= r.parts {
				return total, nil
			}
			// Read opens the next part (and honours skip); it returns at
			// most len(p) bytes of it.
			var p [1]byte
			n, err := r.Read(p[:])
			if n > 0 {
				if _, werr := w.Write(p[:n]); werr != nil {
					return total, werr
				}
				total += int64(n)
			}
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
			continue
		}
		n, err := r.cur.WriteTo(w)
		total += n
		if err != nil {
			return total, err
		}
		r.cur.Close()
		r.cur = nil
	}
}

// Close releases the part being read and the one opened after it.
func (r *partsReader) Close() error {
	for _, pr := range []**events.PartReader{&r.cur, &r.ahead} {
		if *pr != nil {
			(*pr).Close()
			*pr = nil
		}
	}
	return nil
}

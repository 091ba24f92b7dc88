package gateway

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// A followed download (?follow=true, or Prefer: follow) is the download of
// a job that is still running: the file is sent as it is made, each part
// as soon as it and every part before it are stored, and the response ends
// when the job succeeds. Its bytes are exactly those of the download after
// success. Parts are time slices stored out of order by several exporters,
// so part k waits for parts 1..k; only one part is read at a time.
//
// What is stored is learnt from the job's events (part_done, then a
// terminal event) through the watch the job's event streams share
// (feeds), not by polling. A job that fails, is cancelled or expires
// before it succeeds ends the response without the last chunk (WriteTo
// returns an error, and fasthttp closes the connection): no client can
// take what it got for a whole file. A followed download has no length,
// no ranges and no ETag; a client whose stream broke resumes with a
// normal ranged download once the job has succeeded.

// msgFollow is the problem with a follow parameter that is not a boolean.
const msgFollow = "follow must be true or false."

// followValue reports whether v, a follow parameter, is a boolean.
func followValue(v string) bool {
	switch strings.ToLower(v) {
	case "true", "1", "false", "0":
		return true
	}
	return false
}

// followAsked reports whether the request asks for a followed download:
// ?follow=true (or 1), or a Prefer header with the follow preference
// (RFC 7240: a list of tokens, each maybe with a value or parameters).
func followAsked(ctx *fasthttp.RequestCtx) bool {
	switch strings.ToLower(string(ctx.QueryArgs().Peek("follow"))) {
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	for _, pref := range strings.Split(string(ctx.Request.Header.Peek("Prefer")), ",") {
		name, _, _ := strings.Cut(pref, ";")
		name, _, _ = strings.Cut(name, "=")
		if strings.EqualFold(strings.TrimSpace(name), "follow") {
			return true
		}
	}
	return false
}

// followDump answers a followed download of rec, a job not finished yet,
// as format ("" for the job's own).
func (g *Gateway) followDump(ctx *fasthttp.RequestCtx, rec *schema.JobRecord, format string) error {
	if format == "" {
		format = rec.Job.Request.Query.DataType
	}
	if format == "" { // as a datadump without one: JSON
		format = schema.FormatJSON
	}
	h := &ctx.Response.Header
	h.Set("Content-Disposition", "attachment; filename="+rec.Job.Request.Query.Network+".datadump."+format)
	h.Set("Cache-Control", "no-store") // the file is not whole yet
	h.Set("Accept-Ranges", "none")
	h.Set("Preference-Applied", "follow")
	h.Set("X-Accel-Buffering", "no") // nginx: send each part as it comes
	ctx.SetContentType(schema.MediaType(format))
	coding := downloadCoding(format, string(ctx.Request.Header.Peek("Accept-Encoding")))
	if format != schema.FormatParquet {
		h.Set("Vary", "Accept-Encoding")
	}
	if coding != "" {
		h.Set("Content-Encoding", coding)
	}
	if ctx.IsHead() {
		return nil
	}
	sub, err := g.feeds.subscribe(rec.Job.Ticket, 0)
	if err != nil {
		return err
	}
	b := &followBody{g: g, ticket: rec.Job.Ticket, format: format, gzip: coding == "gzip", s2: coding == codingS2, sub: sub, serverDone: ctx.Done(),
		ctx: context.WithoutCancel(ctx), quit: make(chan struct{}), conn: ctx.Conn()}
	b.seed(rec)
	// The status and headers go at once: a client learns the download is
	// followed before the first part, which may be minutes away.
	ctx.Response.ImmediateHeaderFlush = true
	ctx.SetBodyStream(b, -1)
	return nil
}

// followBody is a followed download: it writes the parts as they are
// stored, in order, and ends with the job's success, or fails (breaking
// the response off) with the job's failure.
type followBody struct {
	g          *Gateway
	ctx        context.Context
	ticket     string
	format     string
	gzip       bool
	s2         bool // Content-Encoding: s2 (s2.go)
	sub        *feedClient
	serverDone <-chan struct{}
	conn       net.Conn // the client's: looked at while waiting, and its writes given a deadline

	rec     schema.JobRecord // the job, its events folded in: meta_ids, and JSON's tail
	total   int              // parts planned; 0 until the job has started
	stored  map[int]bool     // parts stored, not yet sent
	next    int              // the next part to send, from 1
	success bool
	text    *result.TextFile     // CSV, JSON, NDJSON: the file laid out as far as sent
	pq      []result.ParquetPart // Parquet: the parts sent, for the footer

	piped pipedRead     // for readers that Read instead
	quit  chan struct{} // closed by Close: stop waiting for parts
}

// seed takes what the record already says: a job's events may have left
// the stream's memory, its record not.
func (b *followBody) seed(rec *schema.JobRecord) {
	b.next, b.stored, b.rec = 1, map[int]bool{}, *rec
	if p := rec.Job.Status.Progress; p != nil {
		b.total = p.Total
	}
	for i, word := range rec.PartsDone {
		for bit := range 64 {
			if word&(1<<bit) != 0 {
				b.stored[i*64+bit+1] = true
			}
		}
	}
}

func (b *followBody) SupportsBodyWriteTo() bool { return true }

// WriteTo writes the file to w as the job makes it; an error (the job
// failed, a part could not be read, the client left) ends it unfinished.
func (b *followBody) WriteTo(w io.Writer) (int64, error) {
	if b.conn != nil {
		var undo func()
		w, undo = stalling(w, b.conn, b.g.Metrics)
		defer undo()
	}
	cw := &countingWriter{w: w}
	out := io.Writer(cw)
	var zw interface {
		io.Writer
		Flush() error
		Close() error
	}
	if b.gzip {
		z := getGzip(cw)
		defer putGzip(z)
		zw, out = z, z
	}
	err := b.write(out, func() error {
		if zw != nil {
			return zw.Flush() // each part reaches the client whole
		}
		return nil
	})
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err != nil {
		b.g.logger.Info("followed datadump ended unfinished", "ticket", b.ticket, "err", err)
	}
	return cw.n, err
}

// write sends the head, then each part when it and the ones before it
// are stored, then, once the job has succeeded, the tail.
func (b *followBody) write(w io.Writer, flush func() error) error {
	if err := b.head(w); err != nil {
		return err
	}
	// A client that leaves while the download waits is noticed by no
	// write: without a look at its connection, every follower that left a
	// held job stayed served (its goroutine, its place in the feed and in
	// the server's connections) until the next part, which may never come.
	var gone <-chan time.Time
	raw := rawConn(b.conn)
	if raw != nil {
		tick := time.NewTicker(followGoneCheck)
		defer tick.Stop()
		gone = tick.C
	}
	for {
		events, ended, ready := b.sub.next()
		for _, e := range events {
			if err := b.fold(e); err != nil {
				return err
			}
		}
		for b.total > 0 && b.next <= b.total && b.stored[b.next] {
			if err := b.part(w, b.next); err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
			delete(b.stored, b.next)
			b.next++
		}
		if b.success && b.next > b.total {
			return b.tail(w)
		}
		if ended {
			// The shared watch broke: a new one, from the last event seen.
			sub, err := b.g.feeds.subscribe(b.ticket, b.sub.after)
			b.sub.close()
			if err != nil {
				b.sub = nil
				return err
			}
			b.sub = sub
			continue
		}
		if len(events) > 0 {
			continue
		}
		select {
		case <-ready:
		case <-b.serverDone:
			return errFollowShutdown
		case <-b.quit:
			return io.ErrClosedPipe
		case <-gone:
			if closedPeer(raw) { // querylimit.go
				return errClientGone
			}
		}
	}
}

// followGoneCheck is how often a waiting followed download looks whether
// its client left: a peek (one syscall) a second per waiting follower.
const followGoneCheck = time.Second

// errFollowShutdown ends a followed download when the server shuts down.
var errFollowShutdown = schema.Errorf(schema.Unavailable, "the server is shutting down")

// fold takes one event of the job.
func (b *followBody) fold(e schema.Event) error {
	b.rec.Apply(e) // as the projector folds it, for the envelope's tail
	switch e.Kind {
	case schema.EventStarted:
		b.total = e.Parts
	case schema.EventPartDone:
		b.total = max(b.total, e.Parts)
		if e.Part >= b.next {
			b.stored[e.Part] = true
		}
	case schema.EventSucceeded:
		b.success = true
		b.total = max(b.total, e.Parts)
	case schema.EventFailed, schema.EventCancelled, schema.EventExpired:
		if !b.success {
			return schema.Errorf(schema.Conflict, "job %s ended %s before its result was whole", b.ticket, e.Kind)
		}
	}
	return nil
}

// head writes what the file begins with.
func (b *followBody) head(w io.Writer) error {
	s := result.ParquetMagic
	if b.format != schema.FormatParquet {
		b.text = result.NewTextFile(b.format)
		s = result.Head(b.format)
	}
	if b.s2 {
		_, err := w.Write(literalS2([]byte(s)))
		return err
	}
	_, err := io.WriteString(w, s)
	return err
}

// tail writes what the file ends with, once every part is sent.
func (b *followBody) tail(w io.Writer) error {
	switch b.format {
	case schema.FormatJSON:
		_, err := io.WriteString(w, result.Tail(b.format, b.rec.Job.Status.Meta))
		return err
	case schema.FormatParquet:
		t, err := result.ParquetTail(b.pq)
		if err != nil {
			return err
		}
		_, err = w.Write(t)
		return err
	}
	return nil
}

// part writes part k in the download's format, as the download after
// success has it: laid out by the same framing rule (result.TextFile) and
// read or rendered by the same body, or from its stored Parquet file when
// it has one, else made from its CSV.
func (b *followBody) part(w io.Writer, k int) error {
	sp, err := b.g.bus.Part(b.ctx, b.ticket, k)
	if err != nil {
		return err
	}
	if b.format == schema.FormatParquet {
		return b.parquetPart(w, k, sp)
	}
	seg, ok := b.text.AddPart(k-1, result.TextPart{CSV: sp.Bytes, JSON: sp.JSON, Observations: sp.Observations})
	if !ok {
		return nil
	}
	body := b.g.newLayoutBody(b.ctx, b.ticket, b.format, b.rec.MetaIDs, []result.Segment{seg})
	body.s2 = b.s2
	_, err = body.WriteTo(w)
	return err
}

// parquetPart writes part k's row groups: its stored Parquet file's body,
// or, for a job not submitted as Parquet, a conversion of its CSV made in
// memory (a part's Parquet is a few MB). Its footer is kept for the
// file's own.
func (b *followBody) parquetPart(w io.Writer, k int, sp events.StoredPart) error {
	magic := int64(len(result.ParquetMagic))
	if sp.Parquet >= 0 {
		p := result.ParquetPart{Size: sp.Parquet, Footer: []byte(sp.ParquetFooter)}
		r, err := b.g.bus.OpenPartParquet(b.ctx, b.ticket, k)
		if err != nil {
			return err
		}
		defer r.Close()
		if err := r.Skip(magic); err != nil {
			return err
		}
		if _, err := io.Copy(w, io.LimitReader(r, p.Body())); err != nil {
			return err
		}
		b.pq = append(b.pq, p)
		return nil
	}
	var buf bytes.Buffer
	p, err := b.g.convertedPart(b.ctx, w, &buf, b.ticket, k, b.rec.MetaIDs)
	if err != nil {
		return err
	}
	b.pq = append(b.pq, p)
	return nil
}

func (b *followBody) Read(p []byte) (int, error) {
	return b.piped.read(p, b.WriteTo, b.leave)
}

// Close stops the download and leaves the job's feed.
func (b *followBody) Close() error {
	select {
	case <-b.quit:
		return nil // closed already
	default:
	}
	close(b.quit)
	if b.piped.stop() { // the goroutine of Read leaves
		return nil
	}
	b.leave()
	return nil
}

func (b *followBody) leave() {
	if b.sub != nil {
		b.sub.close()
		b.sub = nil
	}
}

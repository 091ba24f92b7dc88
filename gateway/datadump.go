package gateway

import (
	"context"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// datadump streams a finished job's file: its parts in order, never a whole
// part in memory, laid out by result (TextLayout, ParquetLayout). CSV is
// sent as stored; JSON and NDJSON are rendered from the stored CSV as they
// are sent (layoutbody.go), their sizes known from what the exporter
// counted; Parquet is stored for a job submitted as Parquet, else
// converted (parquet.go).
//
// A download of known size honours Range and If-Range, so a client
// resumes a broken download where it stopped; a range is found in the
// layout, skipping whole parts by their sizes, then passing over the rest
// of the offset in one part (read, or rendered, from its start). A download
// of unknown size (NDJSON or JSON of parts stored before their sizes were
// counted, Parquet converted) has no ranges (Accept-Ranges: none) and no
// length. With Accept-Encoding: gzip the stream is compressed as it goes,
// and has no length and no ranges; a request with a Range gets the
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
	return g.serveLayout(ctx, rec, format, textLayout(format, rec, infos))
}

// serveLayout answers a download of rec as format laid out by l: its
// validators, a range or the whole file, gzip-compressed if asked for
// (Parquet never: it is compressed already).
func (g *Gateway) serveLayout(ctx *fasthttp.RequestCtx, rec *schema.JobRecord, format string, l *result.Layout) error {
	h := &ctx.Response.Header
	ticket := rec.Job.Ticket
	g.dumpHeaders(ctx, rec, format)
	zippable := format != schema.FormatParquet
	if zippable {
		h.Set("Vary", "Accept-Encoding")
	}
	size, tag := l.Size(), l.Size()
	if size < 0 { // names a file of unknown size by what it is made of
		tag = int64(len(schema.CSVHeader)) + rec.DoneBytes
	}
	// A job's result never changes once it has succeeded, so its ticket,
	// format and size name these bytes exactly: a strong validator.
	etag := `"` + ticket + "-" + format + "-" + strconv.FormatInt(tag, 36) + `"`
	rangeHdr := string(ctx.Request.Header.Peek("Range"))
	ranged := size >= 0 && rangeHdr != "" && ifRangeHolds(string(ctx.Request.Header.Peek("If-Range")), etag, rec.Finished)
	coding := ""
	if !ranged {
		coding = downloadCoding(format, string(ctx.Request.Header.Peek("Accept-Encoding")))
	}
	gz := coding == "gzip"
	if coding != "" {
		// The same bytes compressed are another representation; their
		// bytes depend on the compressor (and, for s2, on how the parts
		// were stored), so a weak validator.
		etag = `W/"` + ticket + "-" + format + "-" + strconv.FormatInt(tag, 36) + "-" + coding + `"`
	}
	h.Set("ETag", etag)
	if size >= 0 && coding == "" {
		h.Set("Accept-Ranges", "bytes")
	} else {
		h.Set("Accept-Ranges", "none")
	}
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && etagListMatches(string(inm), etag, false) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}
	segs, length := l.Segments(), size
	if ranged {
		start, end, answered := answerRange(ctx, rangeHdr, size)
		if answered {
			return nil
		}
		segs, length = l.Slice(start, end), end-start
	}
	if coding != "" {
		h.Set("Content-Encoding", coding)
		length = -1
	}
	body := g.newLayoutBody(context.WithoutCancel(ctx), rec.Job.Ticket, format, rec.MetaIDs, segs)
	body.s2 = coding == codingS2
	if ctx.IsHead() {
		if length >= 0 {
			ctx.SetBodyStream(body, int(length)) // not read: its length
		}
		return nil
	}
	if err := startDownload(ctx, body); err != nil {
		return err
	}
	body.conn = ctx.Conn()
	if gz {
		ctx.SetBodyStream(&gzipBody{body: body, logger: g.logger, ticket: ticket}, -1)
		return nil
	}
	ctx.SetBodyStream(body, int(length))
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

// notReady answers the datadump of a job without a result as Plenario's
// did: 200 with the job document, which says why (Retry-After while the
// job may still get one). A client polling the download link alone learns
// the job's progress from it.
func (g *Gateway) notReady(ctx *fasthttp.RequestCtx, rec *schema.JobRecord) error {
	if !rec.Terminal() {
		ctx.Response.Header.Set("Retry-After", "1")
	}
	writeJSON(ctx, g.document(ctx, rec))
	return nil
}

package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/result"
	"github.com/plenario-next/exportd/schema"
)

// parquetDump serves a finished job as one Parquet file. A job submitted
// as Parquet has every part's Parquet file stored: the download is laid out
// from their footers (result.ParquetLayout), with a length, a strong ETag
// and byte ranges, which Parquet readers need (they read the footer first).
// Any other job's parts are converted from their CSV as they are sent, a
// part at a time: no length and no ranges, as for the other formats made
// on the fly. Parquet is compressed already: gzip is never applied.
func (g *Gateway) parquetDump(ctx *fasthttp.RequestCtx, rec *schema.JobRecord, infos []partInfo) error {
	g.dumpHeaders(ctx, rec, schema.FormatParquet)
	h := &ctx.Response.Header
	ticket := rec.Job.Ticket
	bg := context.WithoutCancel(ctx)
	if !storedParquet(infos) {
		h.Set("Accept-Ranges", "none")
		h.Set("ETag", `W/"`+ticket+`-parquet"`)
		if ctx.IsHead() {
			return nil
		}
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			if err := g.convertParquet(bg, w, ticket, infos, rec.MetaIDs); err != nil {
				g.logger.Warn("datadump aborted", "ticket", ticket, "err", err)
			}
		})
		return nil
	}
	parts := make([]result.ParquetPart, len(infos))
	for i, in := range infos {
		parts[i] = in.parquet
	}
	l, err := result.ParquetLayout(parts)
	if err != nil {
		return schema.Wrap(schema.Internal, "parquet layout", err)
	}
	size := l.Size()
	etag := `"` + ticket + "-parquet-" + strconv.FormatInt(size, 36) + `"`
	h.Set("ETag", etag)
	h.Set("Accept-Ranges", "bytes")
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && etagListMatches(string(inm), etag, false) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}
	start, end := int64(0), size
	ir := string(ctx.Request.Header.Peek("If-Range"))
	if rangeHdr := string(ctx.Request.Header.Peek("Range")); rangeHdr != "" && ifRangeHolds(ir, etag, rec.Finished) {
		var answered bool
		if start, end, answered = answerRange(ctx, rangeHdr, size); answered {
			return nil
		}
	}
	ctx.SetBodyStream(&layoutReader{ctx: bg, bus: g.bus, ticket: ticket, segs: l.Slice(start, end)}, int(end-start))
	return nil
}

// layoutReader reads a layout's segments, opening each part's Parquet file
// when its segment comes and closing it when the segment ends.
type layoutReader struct {
	ctx    context.Context
	bus    *events.Bus
	ticket string
	segs   []result.Segment
	cur    io.Reader
	closer io.Closer
}

func (r *layoutReader) Read(p []byte) (int, error) {
	for {
		if r.cur != nil {
			n, err := r.cur.Read(p)
			if err == io.EOF {
				r.Close()
				err = nil
				if n == 0 {
					continue
				}
			}
			return n, err
		}
		if len(r.segs) == 0 {
			return 0, io.EOF
		}
		s := r.segs[0]
		r.segs = r.segs[1:]
		if s.Part < 0 {
			r.cur = bytes.NewReader(s.Literal)
			continue
		}
		pr, err := r.bus.OpenPartParquet(r.ctx, r.ticket, s.Part+1)
		if err != nil {
			return 0, err
		}
		if err := pr.Skip(s.Offset); err != nil {
			pr.Close()
			return 0, err
		}
		r.cur, r.closer = io.LimitReader(pr, s.Len), pr
	}
}

// Close releases the part being read, if any.
func (r *layoutReader) Close() error {
	r.cur = nil
	if r.closer != nil {
		err := r.closer.Close()
		r.closer = nil
		return err
	}
	return nil
}

// convertParquet writes the job's Parquet file to w, each part converted
// from its stored CSV in memory (a part's Parquet is a few MB), its body
// sent and its footer kept for the file's own; meta_ids are the job's.
func (g *Gateway) convertParquet(ctx context.Context, w io.Writer, ticket string, infos []partInfo, ids schema.MetaIDs) error {
	if _, err := io.WriteString(w, result.ParquetMagic); err != nil {
		return err
	}
	parts := make([]result.ParquetPart, 0, len(infos))
	var buf bytes.Buffer
	for i := range infos {
		p, err := g.convertedPart(ctx, w, &buf, ticket, i+1, ids)
		if err != nil {
			return err
		}
		parts = append(parts, p)
	}
	tail, err := result.ParquetTail(parts)
	if err != nil {
		return err
	}
	_, err = w.Write(tail)
	return err
}

// convertedPart converts part's stored CSV to Parquet in buf (a part's
// Parquet is a few MB), writes its body (row groups and page indexes) to w
// and returns the part as the file's footer needs it.
func (g *Gateway) convertedPart(ctx context.Context, w io.Writer, buf *bytes.Buffer, ticket string, part int, ids schema.MetaIDs) (result.ParquetPart, error) {
	buf.Reset()
	pr, err := g.bus.OpenPart(ctx, ticket, part)
	if err != nil {
		return result.ParquetPart{}, err
	}
	_, err = result.CSVToParquet(buf, pr, func(node string) float64 { return float64(ids[node]) })
	pr.Close()
	if err != nil {
		return result.ParquetPart{}, err
	}
	footer, err := result.ParquetFooter(buf.Bytes())
	if err != nil {
		return result.ParquetPart{}, err
	}
	p := result.ParquetPart{Size: int64(buf.Len()), Footer: footer}
	magic := int64(len(result.ParquetMagic))
	_, err = w.Write(buf.Bytes()[magic : magic+p.Body()])
	return p, err
}

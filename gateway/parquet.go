package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"

	"github.com/valyala/fasthttp"

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
	if !storedParquet(infos) {
		g.dumpHeaders(ctx, rec, schema.FormatParquet)
		h := &ctx.Response.Header
		ticket := rec.Job.Ticket
		bg := context.WithoutCancel(ctx)
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
	return g.serveLayout(ctx, rec, schema.FormatParquet, l)
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

package gateway

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/schema"
)

// datadump streams a finished job's file: its parts in order, never a whole
// part in memory. CSV is the stored form; JSON and NDJSON are made from it
// on the fly.
func (g *Gateway) datadump(ctx *fasthttp.RequestCtx, p []string) error {
	ticket := p[0]
	format := schema.FormatCSV
	pr := schema.Problems{}
	ctx.QueryArgs().VisitAll(func(k, v []byte) {
		switch string(k) {
		case "data_type":
			format = strings.ToLower(string(v))
			if format != schema.FormatCSV && format != schema.FormatJSON && format != schema.FormatNDJSON {
				pr.Add("data_type", "Must be one of: csv, json, ndjson.")
			}
		default:
			pr.Add(string(k), schema.MsgNotAFilter)
		}
	})
	if err := pr.Err(); err != nil {
		return err
	}
	rec, err := g.job(ctx, ticket)
	if schema.ErrorCode(err) == schema.NotFound {
		return jobNotFound(ctx, ticket)
	}
	if err != nil {
		return err
	}
	if st := rec.Job.Status.Status; st != schema.StatusSuccess {
		if !rec.Terminal() {
			ctx.Response.Header.Set("Retry-After", "1")
		}
		return schema.Errorf(schema.Conflict, "Job is %s, not success: nothing to download.", st)
	}
	parts := rec.Job.Status.Progress.Total
	network := rec.Job.Request.Query.Network
	ctx.Response.Header.Set("Content-Disposition", "attachment; filename="+network+".datadump."+format)
	body := &partsReader{ctx: context.WithoutCancel(ctx), bus: g.bus, ticket: ticket, parts: parts}
	switch format {
	case schema.FormatCSV:
		ctx.SetContentType("text/csv; charset=utf-8")
		size := len(schema.CSVHeader) + int(rec.DoneBytes)
		ctx.SetBodyStream(io.MultiReader(strings.NewReader(schema.CSVHeader), body), size)
		ctx.Response.Header.Set("X-Row-Count", strconv.FormatInt(rec.DoneRows, 10))
	default:
		if format == schema.FormatJSON {
			ctx.SetContentType("application/json")
		} else {
			ctx.SetContentType("application/x-ndjson")
		}
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			defer body.Close()
			jw := schema.NewJSONWriter(w, format == schema.FormatNDJSON)
			if _, err := io.Copy(jw, body); err != nil {
				g.logger.Warn("datadump aborted", "ticket", ticket, "err", err)
				return
			}
			if err := jw.Close(); err != nil {
				g.logger.Warn("datadump aborted", "ticket", ticket, "err", err)
			}
		})
	}
	return nil
}

// partsReader reads a job's parts one after another, opening each when the
// previous one ends.
type partsReader struct {
	ctx    context.Context
	bus    *events.Bus
	ticket string
	parts  int
	next   int // the next part to open, from 0
	cur    jetstream.ObjectResult
}

func (r *partsReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.next >= r.parts {
				return 0, io.EOF
			}
			r.next++
			cur, err := r.bus.OpenPart(r.ctx, r.ticket, r.next)
			if err != nil {
				return 0, err
			}
			r.cur = cur
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

// Close releases the part being read.
func (r *partsReader) Close() error {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	return nil
}

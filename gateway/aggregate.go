package gateway

import (
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// aggregate serves /aggregate: one node's feature reduced by a function
// over time buckets, every bucket of the window present, as Plenario did.
func (g *Gateway) aggregate(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	q, err := schema.ParseAggregate(args(ctx), n, g.Now())
	var e *schema.Error
	if errors.As(err, &e) && e.Code == schema.Invalid && e.Message == schema.MsgContradictory {
		writeTextError(ctx, e.Message)
		return nil
	}
	if err != nil {
		return err
	}
	vals, err := g.store.Aggregate(ctx, &q)
	if err != nil {
		return err
	}
	data := schema.FillBuckets(&q, vals)
	writeJSON(ctx, map[string]any{
		"meta": map[string]any{"query": q, "total": len(data), "message": []string{}},
		"data": data,
	})
	return nil
}

// writeTextError answers 400 with Plenario's error whose message is one
// string rather than messages keyed by parameter: for a request whose
// parameters are each fine but together select nothing.
func writeTextError(ctx *fasthttp.RequestCtx, msg string) {
	ctx.SetStatusCode(fasthttp.StatusBadRequest)
	writeJSON(ctx, map[string]any{"meta": map[string]any{"query": queryArgs(ctx)}, "error": msg})
}

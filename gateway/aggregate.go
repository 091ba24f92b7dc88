package gateway

import (
	"context"
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
	var vals []schema.AggregateValue
	answer, err := g.waitedQuery(ctx, g.reduces, g.reduceLimits(), func(qctx context.Context) (err error) {
		vals, err = g.store.Aggregate(qctx, &q)
		return err
	})
	if !answer || err != nil {
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

// reduceLimits bound /aggregate and /nearest as QueryLimits bound /query,
// with no client limit below the total: Plenario's explorer asks for a
// node's features' aggregates at once. Without a bound, a client that left
// kept its median running in ClickHouse, holding one of the store's
// connections until it ended (TestAggregateCancelledWhenClientLeaves).
func (g *Gateway) reduceLimits() QueryLimits {
	l := g.QueryLimits.withDefaults()
	l.PerClient = l.Total
	return l
}

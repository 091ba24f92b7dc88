package gateway

import (
	"context"
	"net/url"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// args copies the query string for schema.ParseQuery.
func args(ctx *fasthttp.RequestCtx) url.Values {
	v := url.Values{}
	ctx.QueryArgs().VisitAll(func(k, val []byte) { v.Add(string(k), string(val)) })
	return v
}

// networkFor resolves the network of a query endpoint; an unknown one is a
// 400 keyed "network", as Plenario answered.
func (g *Gateway) networkFor(ctx *fasthttp.RequestCtx, name string) (*schema.Network, error) {
	n, err := g.network(ctx, name)
	if schema.ErrorCode(err) == schema.NotFound {
		return nil, schema.NetworkProblem(name)
	}
	return n, err
}

func (g *Gateway) rawQuery(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	q, err := schema.ParseQuery(schema.Raw, args(ctx), n, g.Now())
	if err != nil {
		return err
	}
	var obs []schema.Observation
	answer, err := g.waitedQuery(ctx, g.queries, g.QueryLimits.withDefaults(), func(qctx context.Context) (err error) {
		obs, err = g.store.Observations(qctx, &q)
		return err
	})
	if !answer || err != nil {
		return err
	}
	n.SetMetaIDs(obs)
	writeJSON(ctx, map[string]any{
		"meta": map[string]any{"query": q, "total": len(obs), "message": []string{}},
		"data": obs,
	})
	return nil
}

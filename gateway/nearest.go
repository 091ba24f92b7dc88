package gateway

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// nearest serves /nearest: the reading of a feature closest in time from
// the nearest node that has one, or Plenario's sentence saying why there is
// none, as the one item of data.
func (g *Gateway) nearest(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	q, err := schema.ParseNearest(args(ctx), n, g.Now())
	if err != nil {
		return err
	}
	var item any = schema.MsgNoNearbyNodes
	if nodes := n.NearestNodes(q.Lat, q.Lng, q.Feature, schema.NearestNodes); len(nodes) > 0 {
		ids := make([]string, len(nodes))
		for i, x := range nodes {
			ids[i] = x.ID
		}
		var obs *schema.Observation
		answer, err := g.waitedQuery(ctx, g.reduces, g.reduceLimits(), func(qctx context.Context) (err error) {
			obs, err = g.store.Nearest(qctx, &q, ids)
			return err
		})
		if !answer || err != nil {
			return err
		}
		item = schema.MsgNoNearbyReport
		if obs != nil {
			one := []schema.Observation{*obs}
			n.SetMetaIDs(one) // as /query gives them
			item = one[0]
		}
	}
	writeJSON(ctx, map[string]any{
		"meta": map[string]any{"query": q, "total": 1, "message": []string{}},
		"data": []any{item},
	})
	return nil
}

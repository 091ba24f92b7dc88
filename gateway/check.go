package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// check serves /check: which of the nodes, features and sensors given the
// network has, in the ticket era's shape ({"meta":{},"data":[…]}).
func (g *Gateway) check(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	data, err := schema.Check(args(ctx), n)
	if err != nil {
		return err
	}
	writeJSON(ctx, map[string]any{"meta": map[string]any{}, "data": data})
	return nil
}

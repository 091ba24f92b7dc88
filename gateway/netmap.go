package gateway

import (
	"github.com/valyala/fasthttp"
)

// networkMap serves /map: {node: {sensor: {common name: "feature.property"}}},
// no envelope, as Plenario's later API did.
func (g *Gateway) networkMap(ctx *fasthttp.RequestCtx, p []string) error {
	if err := noArgs(ctx); err != nil {
		return err
	}
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	writeJSON(ctx, n.Map())
	return nil
}

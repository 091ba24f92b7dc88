package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// networkMap serves /map: {node: {sensor: {common name: "feature.property"}}},
// no envelope, as Plenario's later API did. An unknown network is its
// plain-string 400, as that API's get_network_map said it (the other
// routes key the message by "network", as the ticket era's validator did).
// It reads no argument, as get_network_map read none.
func (g *Gateway) networkMap(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.network(ctx, p[0])
	if schema.ErrorCode(err) == schema.NotFound {
		return schema.Errorf(schema.Invalid, "Invalid network name: %s", p[0])
	}
	if err != nil {
		return err
	}
	writeJSON(ctx, n.Map())
	return nil
}

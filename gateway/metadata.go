package gateway

import (
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/schema"
)

// writeList writes Plenario's metadata envelope.
func writeList(ctx *fasthttp.RequestCtx, data any, total int) {
	writeJSON(ctx, map[string]any{
		"meta": map[string]any{"message": []string{}, "total": total, "query": queryArgs(ctx)},
		"data": data,
	})
}

func noArgs(ctx *fasthttp.RequestCtx) error {
	p := schema.Problems{}
	ctx.QueryArgs().VisitAll(func(k, _ []byte) { p.Add(string(k), schema.MsgNotAFilter) })
	return p.Err()
}

func notFound(field, msg string) error {
	return &schema.Error{Code: schema.NotFound, Fields: map[string][]string{field: {msg}}}
}

// metaNetwork resolves the network of a metadata endpoint; an unknown one
// is a 404 keyed "network", like the other unknown names.
func (g *Gateway) metaNetwork(ctx *fasthttp.RequestCtx, name string) (*schema.Network, error) {
	n, err := g.network(ctx, name)
	if schema.ErrorCode(err) == schema.NotFound {
		return nil, notFound("network", "Invalid network name: "+name)
	}
	return n, err
}

func (g *Gateway) listNetworks(ctx *fasthttp.RequestCtx, _ []string) error {
	if err := noArgs(ctx); err != nil {
		return err
	}
	names, err := g.store.Networks(ctx)
	if err != nil {
		return err
	}
	docs := []schema.NetworkDoc{}
	for _, name := range names {
		n, err := g.network(ctx, name)
		if err != nil {
			return err
		}
		docs = append(docs, n.Doc())
	}
	writeList(ctx, docs, len(docs))
	return nil
}

func (g *Gateway) getNetwork(ctx *fasthttp.RequestCtx, p []string) error {
	if err := noArgs(ctx); err != nil {
		return err
	}
	n, err := g.metaNetwork(ctx, p[0])
	if err != nil {
		return err
	}
	writeList(ctx, []schema.NetworkDoc{n.Doc()}, 1)
	return nil
}

func (g *Gateway) listNodes(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.metaNetwork(ctx, p[0])
	if err != nil {
		return err
	}
	q, err := schema.ParseQuery(schema.NodeList, args(ctx), n, g.Now())
	if err != nil {
		return err
	}
	docs := []schema.NodeDoc{}
	for _, id := range q.Nodes {
		x, _ := n.Node(id)
		docs = append(docs, x.Doc())
	}
	writeList(ctx, docs, len(docs))
	return nil
}

func (g *Gateway) getNode(ctx *fasthttp.RequestCtx, p []string) error {
	if err := noArgs(ctx); err != nil {
		return err
	}
	n, err := g.metaNetwork(ctx, p[0])
	if err != nil {
		return err
	}
	x, ok := n.Node(p[1])
	if !ok {
		return notFound("node", "Invalid node ID: "+p[1])
	}
	writeList(ctx, []schema.NodeDoc{x.Doc()}, 1)
	return nil
}

func (g *Gateway) listSensors(ctx *fasthttp.RequestCtx, p []string) error {
	if err := noArgs(ctx); err != nil {
		return err
	}
	n, err := g.metaNetwork(ctx, p[0])
	if err != nil {
		return err
	}
	docs := []schema.Sensor{}
	for _, s := range n.Sensors {
		docs = append(docs, s.Doc())
	}
	writeList(ctx, docs, len(docs))
	return nil
}

func (g *Gateway) getSensor(ctx *fasthttp.RequestCtx, p []string) error {
	if err := noArgs(ctx); err != nil {
		return err
	}
	n, err := g.metaNetwork(ctx, p[0])
	if err != nil {
		return err
	}
	s, ok := n.Sensor(p[1])
	if !ok {
		return notFound("sensor", "Invalid sensor name: "+p[1])
	}
	writeList(ctx, []schema.Sensor{s.Doc()}, 1)
	return nil
}

func (g *Gateway) listFeatures(ctx *fasthttp.RequestCtx, p []string) error {
	if err := noArgs(ctx); err != nil {
		return err
	}
	n, err := g.metaNetwork(ctx, p[0])
	if err != nil {
		return err
	}
	docs := append([]schema.Feature{}, n.Features...)
	writeList(ctx, docs, len(docs))
	return nil
}

func (g *Gateway) getFeature(ctx *fasthttp.RequestCtx, p []string) error {
	if err := noArgs(ctx); err != nil {
		return err
	}
	n, err := g.metaNetwork(ctx, p[0])
	if err != nil {
		return err
	}
	name, prop, dotted := strings.Cut(p[1], ".")
	f, ok := n.Feature(name)
	if ok && dotted {
		_, ok = f.Property(prop)
	}
	if !ok {
		return notFound("feature", "Invalid feature of interest name: "+p[1])
	}
	writeList(ctx, []schema.Feature{f}, 1)
	return nil
}

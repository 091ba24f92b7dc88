package gateway

import (
	"errors"
	"slices"
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

// area is what a metadata request's geom selects: the nodes inside it
// (all of the network's when there is no geom) and the geom as given, for
// the message when it holds nothing.
type area struct {
	nodes []string
	geom  string // "" when the request has none
}

// metaArea validates a metadata request's parameters (only geom) together
// with the problems its path already found, so that every one is reported
// at once, and returns the area it selects. network and the view's own
// list (nodes, sensors or features) are not read: Plenario's views put
// their path's values over them (sn:get_node_metadata's dict(request.args,
// **{"network": network, "nodes": …}) at T, args.update at H), so that
// /nodes?nodes=x was every node, not "Not a valid filter".
func (g *Gateway) metaArea(ctx *fasthttp.RequestCtx, n *schema.Network, problems schema.Problems, list string) (area, error) {
	a := args(ctx)
	delete(a, "network")
	delete(a, list)
	q, err := schema.ParseQuery(schema.NodeList, a, n, g.Now())
	var e *schema.Error
	switch {
	case errors.As(err, &e) && e.Code == schema.Invalid:
		for k, msgs := range e.Fields {
			for _, m := range msgs {
				problems.Add(k, m)
			}
		}
	case err != nil:
		return area{}, err
	}
	if err := problems.Err(); err != nil {
		return area{}, err
	}
	out := area{nodes: q.Nodes}
	if len(q.Geom) > 0 {
		out.geom = strings.Join(a["geom"], ",")
	}
	return out, nil
}

// sensors is what the area holds of the network's sensors: those on its
// nodes; all of them when there is no geom.
func (a area) sensors(n *schema.Network) []schema.Sensor {
	if a.geom == "" {
		return n.Sensors
	}
	return n.SensorsOn(a.nodes)
}

// features is what the area holds of the network's features: those its
// sensors observe; all of them when there is no geom.
func (a area) features(n *schema.Network) []schema.Feature {
	if a.geom == "" {
		return n.Features
	}
	return n.FeaturesOf(n.SensorsOn(a.nodes))
}

// listNetworks and getNetwork read no argument: Plenario's
// get_network_metadata validated only its path's network (T), or ignored
// what it did not know (H), so that a cache-buster (jQuery's _=) passes.
func (g *Gateway) listNetworks(ctx *fasthttp.RequestCtx, _ []string) error {
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
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	writeList(ctx, []schema.NetworkDoc{n.Doc()}, 1)
	return nil
}

func (g *Gateway) listNodes(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	a, err := g.metaArea(ctx, n, schema.Problems{}, "nodes")
	if err != nil {
		return err
	}
	if a.geom != "" && len(a.nodes) == 0 {
		return schema.EmptyArea("features", a.geom)
	}
	docs := []schema.NodeDoc{}
	for _, id := range a.nodes {
		x, _ := n.Node(id)
		docs = append(docs, x.Doc())
	}
	writeList(ctx, docs, len(docs))
	return nil
}

// getNode answers one node; with a geom, only if the node lies inside it.
func (g *Gateway) getNode(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	problems := schema.Problems{}
	x, ok := n.Node(p[1])
	if !ok {
		problems.UnknownNode(p[1])
	}
	a, err := g.metaArea(ctx, n, problems, "nodes")
	if err != nil {
		return err
	}
	if a.geom != "" && !slices.Contains(a.nodes, x.ID) {
		return schema.EmptyArea("features", a.geom)
	}
	writeList(ctx, []schema.NodeDoc{x.Doc()}, 1)
	return nil
}

func (g *Gateway) listSensors(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	a, err := g.metaArea(ctx, n, schema.Problems{}, "sensors")
	if err != nil {
		return err
	}
	sensors := a.sensors(n)
	if a.geom != "" && len(sensors) == 0 {
		return schema.EmptyArea("sensors", a.geom)
	}
	docs := []schema.Sensor{}
	for _, s := range sensors {
		docs = append(docs, s.Doc())
	}
	writeList(ctx, docs, len(docs))
	return nil
}

// getSensor answers one sensor; with a geom, only if a node inside it
// carries the sensor.
func (g *Gateway) getSensor(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	problems := schema.Problems{}
	s, ok := n.Sensor(p[1])
	if !ok {
		problems.UnknownSensor(p[1])
	}
	a, err := g.metaArea(ctx, n, problems, "sensors")
	if err != nil {
		return err
	}
	if a.geom != "" && !slices.ContainsFunc(a.sensors(n), func(x schema.Sensor) bool { return x.Name == s.Name }) {
		return schema.EmptyArea("sensors", a.geom)
	}
	writeList(ctx, []schema.Sensor{s.Doc()}, 1)
	return nil
}

func (g *Gateway) listFeatures(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	a, err := g.metaArea(ctx, n, schema.Problems{}, "features")
	if err != nil {
		return err
	}
	features := a.features(n)
	if a.geom != "" && len(features) == 0 {
		return schema.EmptyArea("features", a.geom)
	}
	docs := []schema.Feature{}
	for _, f := range features {
		docs = append(docs, f.Doc())
	}
	writeList(ctx, docs, len(docs))
	return nil
}

// getFeature answers one feature (feature.property names one of its
// properties, and answers the whole feature); with a geom, only if a
// sensor on a node inside it observes the feature.
func (g *Gateway) getFeature(ctx *fasthttp.RequestCtx, p []string) error {
	n, err := g.networkFor(ctx, p[0])
	if err != nil {
		return err
	}
	problems := schema.Problems{}
	name, prop, dotted := strings.Cut(p[1], ".")
	f, ok := n.Feature(name)
	if ok && dotted {
		_, ok = f.Property(prop)
	}
	if !ok {
		problems.UnknownFeature(p[1])
	}
	a, err := g.metaArea(ctx, n, problems, "features")
	if err != nil {
		return err
	}
	if a.geom != "" && !slices.ContainsFunc(a.features(n), func(x schema.Feature) bool { return x.Name == f.Name }) {
		return schema.EmptyArea("features", a.geom)
	}
	writeList(ctx, []schema.Feature{f.Doc()}, 1)
	return nil
}

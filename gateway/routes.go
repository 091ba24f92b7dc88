package gateway

import (
	_ "embed"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Route is one operation of the HTTP API: a method and a path template
// whose {name} segments stand for any value.
type Route struct {
	Method, Path string
}

// routes lists every operation Handler serves, as openapi.json documents
// them; requests are counted in the metrics under these templates. HEAD is
// served wherever GET is.
var routes = []Route{
	{"GET", "/healthz"},
	{"GET", "/readyz"},
	{"GET", "/metrics"},
	{"GET", "/openapi.json"},
	{"GET", "/v1/api/sensor-networks"},
	{"GET", "/v1/api/sensor-networks/{network}"},
	{"GET", "/v1/api/sensor-networks/{network}/nodes"},
	{"GET", "/v1/api/sensor-networks/{network}/nodes/{node}"},
	{"GET", "/v1/api/sensor-networks/{network}/sensors"},
	{"GET", "/v1/api/sensor-networks/{network}/sensors/{sensor}"},
	{"GET", "/v1/api/sensor-networks/{network}/features"},
	{"GET", "/v1/api/sensor-networks/{network}/features/{feature}"},
	{"GET", "/v1/api/sensor-networks/{network}/query"},
	{"GET", "/v1/api/sensor-networks/{network}/download"},
	{"GET", "/v1/api/jobs/{ticket}"},
	{"DELETE", "/v1/api/jobs/{ticket}"},
	{"GET", "/v1/api/jobs/{ticket}/events"},
	{"GET", "/v1/api/jobs/{ticket}/manifest"},
	{"GET", "/v1/api/datadump/{ticket}"},
}

// Routes returns every operation the gateway serves.
func Routes() []Route { return slices.Clone(routes) }

// unmatchedRoute labels requests for paths outside the API, so that
// scanners cannot grow the metrics without bound.
const unmatchedRoute = "unmatched"

// routeOf returns the template of routes that path matches: the one with
// the most literal segments, or unmatchedRoute.
func routeOf(path string) string {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	best, bestLit := unmatchedRoute, -1
	for _, r := range routes {
		tseg := strings.Split(strings.Trim(r.Path, "/"), "/")
		if len(tseg) != len(seg) {
			continue
		}
		lit := 0
		for i, t := range tseg {
			switch {
			case strings.HasPrefix(t, "{"):
				if seg[i] == "" {
					lit = -1
				}
			case t == seg[i]:
				lit++
			default:
				lit = -1
			}
			if lit < 0 {
				break
			}
		}
		if lit > bestLit {
			best, bestLit = r.Path, lit
		}
	}
	return best
}

// instrument counts and times each request under its route template.
func (g *Gateway) instrument(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	if g.Metrics == nil {
		return next
	}
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		next(ctx)
		g.Metrics.Request(routeOf(string(ctx.Path())), methodLabel(ctx), ctx.Response.StatusCode(), time.Since(start))
	}
}

// methodLabel is the request's method, or "other" for one the API never
// serves, so that made-up methods cannot grow the metrics either.
func methodLabel(ctx *fasthttp.RequestCtx) string {
	switch m := string(ctx.Method()); m {
	case fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodPost, fasthttp.MethodPut,
		fasthttp.MethodDelete, fasthttp.MethodPatch, fasthttp.MethodOptions:
		return m
	}
	return "other"
}

// metrics serves the Prometheus metrics of this process.
func (g *Gateway) metrics(ctx *fasthttp.RequestCtx, _ []string) error {
	fasthttpadaptor.NewFastHTTPHandler(g.Metrics.Handler())(ctx)
	return nil
}

//go:embed openapi.json
var openAPI []byte

// openapi serves the OpenAPI 3 description of this API.
func (g *Gateway) openapi(ctx *fasthttp.RequestCtx, _ []string) error {
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "public, max-age=300")
	ctx.SetBody(openAPI)
	return nil
}

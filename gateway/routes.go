package gateway

import (
	_ "embed"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Route is one operation of the HTTP API: a method and a path template
// whose {name} segments stand for any value.
type Route struct {
	Method, Path string
}

// route is a Route with what serves it.
type route struct {
	Route
	serve  func(g *Gateway, ctx *fasthttp.RequestCtx, params []string) error
	public bool     // answers without an API key
	seg    []string // the template's segments

	// methods are the methods of every route of this template (HEAD
	// wherever GET), and allowMethods them joined for CORS: made once, not
	// on every request (TestRoutesDoNotOverlap: a path's routes share a
	// template).
	methods      []string
	allowMethods []byte
	params       int // the template's {name} segments
}

// routes is every operation Handler serves, as openapi.json documents them;
// requests are counted in the metrics under these templates. HEAD is served
// wherever GET is. This table is the router: nothing else maps paths.
var routes = []route{
	{Route: Route{"GET", "/healthz"}, serve: (*Gateway).healthz, public: true},
	{Route: Route{"GET", "/readyz"}, serve: (*Gateway).readyz, public: true},
	{Route: Route{"GET", "/metrics"}, serve: (*Gateway).metrics, public: true},
	{Route: Route{"GET", "/openapi.json"}, serve: (*Gateway).openapi, public: true},
	{Route: Route{"GET", "/v1/api/sensor-networks"}, serve: (*Gateway).listNetworks},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}"}, serve: (*Gateway).getNetwork},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/nodes"}, serve: (*Gateway).listNodes},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/nodes/{node}"}, serve: (*Gateway).getNode},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/sensors"}, serve: (*Gateway).listSensors},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/sensors/{sensor}"}, serve: (*Gateway).getSensor},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/features"}, serve: (*Gateway).listFeatures},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/features/{feature}"}, serve: (*Gateway).getFeature},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/query"}, serve: (*Gateway).rawQuery},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/download"}, serve: (*Gateway).submit},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/aggregate"}, serve: (*Gateway).aggregate},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/nearest"}, serve: (*Gateway).nearest},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/check"}, serve: (*Gateway).check},
	{Route: Route{"GET", "/v1/api/sensor-networks/{network}/map"}, serve: (*Gateway).networkMap},
	{Route: Route{"GET", "/v1/api/jobs/{ticket}"}, serve: (*Gateway).getJob},
	{Route: Route{"DELETE", "/v1/api/jobs/{ticket}"}, serve: (*Gateway).cancelJob},
	{Route: Route{"GET", "/v1/api/jobs/{ticket}/events"}, serve: (*Gateway).jobEvents},
	{Route: Route{"GET", "/v1/api/jobs/{ticket}/manifest"}, serve: (*Gateway).manifest},
	{Route: Route{"GET", "/v1/api/datadump/{ticket}"}, serve: (*Gateway).datadump},
	{Route: Route{"POST", "/v1/api/webhooks"}, serve: (*Gateway).createWebhook},
	{Route: Route{"GET", "/v1/api/webhooks"}, serve: (*Gateway).listWebhooks},
	{Route: Route{"GET", "/v1/api/webhooks/{id}"}, serve: (*Gateway).getWebhook},
	{Route: Route{"DELETE", "/v1/api/webhooks/{id}"}, serve: (*Gateway).deleteWebhook},
}

func init() {
	for i := range routes {
		routes[i].seg = strings.Split(strings.Trim(routes[i].Path, "/"), "/")
		if len(routes[i].seg) > maxSegments {
			panic("gateway: route " + routes[i].Path + " has more than maxSegments segments")
		}
	}
	for i := range routes {
		r := &routes[i]
		for _, c := range routes {
			if c.Path == r.Path {
				r.methods = append(r.methods, c.Method)
				if c.Method == fasthttp.MethodGet {
					r.methods = append(r.methods, fasthttp.MethodHead)
				}
			}
		}
		r.allowMethods = []byte(strings.Join(r.methods, ", "))
		for _, t := range r.seg {
			if t[0] == '{' {
				r.params++
			}
		}
		routesByLen[len(r.seg)] = append(routesByLen[len(r.seg)], r)
	}
}

// routesByLen is the table by the templates' segment counts, each in the
// table's order, so that a path is tried against the few routes of its
// length: a poll's path was tried against all 27 (BenchmarkJobGet).
var routesByLen [maxSegments + 1][]*route

// maxSegments bounds a template's segments: a path with more matches no
// route, and splitPath needs no more room than this.
const maxSegments = 8

// splitPath is strings.Split(strings.Trim(path, "/"), "/") into buf, whose
// room is on the caller's stack: a poll's path costs no allocation of its
// own (BenchmarkJobGet). ok is false when the path has more than
// maxSegments segments.
func splitPath(path string, buf *[maxSegments]string) (seg []string, ok bool) {
	path = strings.Trim(path, "/")
	n := 0
	for {
		if n == maxSegments {
			return nil, false
		}
		i := strings.IndexByte(path, '/')
		if i < 0 {
			buf[n] = path
			return buf[:n+1], true
		}
		buf[n], path = path[:i], path[i+1:]
		n++
	}
}

// Routes returns every operation the gateway serves.
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, r := range routes {
		out[i] = r.Route
	}
	return out
}

// unmatchedRoute labels requests for paths outside the API, so that
// scanners cannot grow the metrics without bound.
const unmatchedRoute = "unmatched"

// match returns the route for the path's segments and method, the values
// of its {name} segments, and, when the path is known but not for this
// method, the methods it takes and its template.
func match(seg []string, method string) (r *route, params []string, allow []string, template string) {
	for _, c := range routesByLen[min(len(seg), maxSegments)] {
		if !c.matches(seg) {
			continue
		}
		if c.Method == method || (c.Method == fasthttp.MethodGet && method == fasthttp.MethodHead) {
			params = make([]string, 0, c.params)
			for k, t := range c.seg {
				if t[0] == '{' {
					params = append(params, seg[k])
				}
			}
			return c, params, nil, c.Path
		}
		template = c.Path
		allow = append(allow, c.Method)
		if c.Method == fasthttp.MethodGet {
			allow = append(allow, fasthttp.MethodHead)
		}
	}
	return nil, nil, allow, template
}

// matches reports whether the path's segments fit the route's template.
func (c *route) matches(seg []string) bool {
	if len(c.seg) != len(seg) {
		return false
	}
	for k, t := range c.seg {
		if t[0] == '{' && seg[k] == "" || t[0] != '{' && t != seg[k] {
			return false
		}
	}
	return true
}

// pathMethods is every method the path's routes take (HEAD wherever GET),
// in the table's order; nil for a path no route serves.
func pathMethods(seg []string) []string {
	var out []string
	for _, c := range routesByLen[min(len(seg), maxSegments)] {
		if c.matches(seg) {
			out = append(out, c.Method)
			if c.Method == fasthttp.MethodGet {
				out = append(out, fasthttp.MethodHead)
			}
		}
	}
	return out
}

// methodName is the request's method as a string, the constant for each
// method the API serves, so that a request's method costs no allocation.
func methodName(m []byte) string {
	for _, k := range knownMethods {
		if string(m) == k {
			return k
		}
	}
	return string(m)
}

var knownMethods = [...]string{fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodPost, fasthttp.MethodPut,
	fasthttp.MethodDelete, fasthttp.MethodPatch, fasthttp.MethodOptions}

// methodLabel is the request's method, or "other" for one the API never
// serves, so that made-up methods cannot grow the metrics either.
func methodLabel(m string) string {
	for _, k := range knownMethods {
		if m == k {
			return k
		}
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

// Package gateway is exportd's HTTP face, on fasthttp: Plenario's
// sensor-network API (metadata, raw query, bulk download, jobs, datadump).
// Each handler decodes, makes one call into the store or the bus, and
// encodes; handlers return errors and one function turns them into
// Plenario's error shapes. It never writes a job document: it publishes
// events and reads what the projector made of them.
package gateway

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/metrics"
	"github.com/plenario-next/exportd/schema"
	"github.com/plenario-next/exportd/webhook"
)

// DefaultMetadataTTL is how long a network's metadata is cached.
const DefaultMetadataTTL = 10 * time.Second

// Gateway serves the HTTP API.
type Gateway struct {
	bus    *events.Bus
	store  *chstore.Store
	logger *slog.Logger

	// URLRoot prefixes result links ("http://host:port/"); empty means the
	// request's own Host.
	URLRoot     string
	Now         func() time.Time
	MetadataTTL time.Duration
	Metrics     *metrics.Registry // served at /metrics; requests counted in it

	// SSEHeartbeat is how often an idle event stream sends a comment;
	// zero means DefaultSSEHeartbeat.
	SSEHeartbeat time.Duration

	// APIKeys, when set, are the keys that may call the API (Bearer); each
	// sees only its own jobs.
	APIKeys []string
	// MaxActive is how many queued or running jobs a client may have; zero
	// means no limit. Enforced while Run is running.
	MaxActive int
	// QueryLimits bound /query: at once per client and in all, and in time.
	QueryLimits QueryLimits

	// WebhookPolicy decides which webhook URLs may be registered;
	// MaxWebhooks bounds a client's endpoints (DefaultMaxWebhooks if 0).
	WebhookPolicy webhook.Policy
	MaxWebhooks   int

	mu       sync.Mutex
	networks map[string]cachedNetwork
	active   *active
	cache    *jobCache

	parts   partCache     // part infos of succeeded jobs, for manifests and ranges
	partial storedParts   // part infos of running jobs, for partial manifests
	feeds   *feeds        // one watch per followed job, shared by its event streams
	queries *queryLimiter // /query's running ClickHouse queries
	reduces *queryLimiter // /aggregate's and /nearest's

	registering clientLocks // webhook registrations, a client's one at a time (webhooks.go)
}

type cachedNetwork struct {
	n          *schema.Network
	lists      *schema.ListsJSON // n's, for the answers to requests of all its nodes (listsOf)
	when       time.Time
	refreshing bool
}

// New returns a Gateway.
func New(bus *events.Bus, store *chstore.Store, logger *slog.Logger) *Gateway {
	a := newActive()
	g := &Gateway{bus: bus, store: store, logger: logger, Now: time.Now, MetadataTTL: DefaultMetadataTTL,
		Metrics: metrics.New(), networks: map[string]cachedNetwork{}, active: a, MaxActive: DefaultMaxActive,
		cache: newJobCache(DefaultCachedJobs, a), feeds: newFeeds(bus.Watch), queries: newQueryLimiter(),
		reduces: newQueryLimiter()}
	g.feeds.settle = func(ticket string, seq uint64) { g.settle(ticket, seq, DefaultSSESettle) }
	return g
}

// Server returns a fasthttp server for the gateway, with limits that turn
// oversized requests into 4xx answers before any work is done.
func (g *Gateway) Server() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               g.Handler(),
		Name:                  "exportd",
		ReadBufferSize:        MaxRequestHeader, // request line and headers; past it, 431
		ErrorHandler:          requestError,
		MaxRequestBodySize:    1 << 20,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		NoDefaultServerHeader: true,
		NoDefaultDate:         false,
		StreamRequestBody:     false,
		Logger:                fasthttpLogger{g.logger},
	}
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("fasthttp", "msg", format, "args", args)
}

// Handler serves the API: it finds the route (routes.go), puts the CORS
// headers and answers a preflight (cors.go), checks the caller, runs the
// route's handler, renders its error if any, and counts
// the request under the route's template.
func (g *Gateway) Handler() fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		start := ctx.Time() // the clock fasthttp read as it called the handler
		if start.IsZero() {
			start = time.Now()
		}
		method := methodName(ctx.Method())
		var buf [maxSegments]string
		seg, known := splitPath(string(ctx.Path()), &buf)
		var r *route
		var params, allow []string
		template := unmatchedRoute
		if known {
			r, params, allow, template = match(seg, method)
			if template == "" {
				template = unmatchedRoute
			}
		}
		var methods []string
		if r != nil {
			methods = r.methods
			setCORSAllow(&ctx.Response.Header, r.allowMethods) // cors.go: on every answer, set first
		} else {
			if known {
				methods = pathMethods(seg)
			}
			setCORS(&ctx.Response.Header, methods)
		}
		switch {
		case method == fasthttp.MethodOptions:
			preflight(ctx, methods)
		case r == nil && allow == nil:
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			writeError(ctx, "Not found: "+string(ctx.Path()))
		case r == nil:
			ctx.Response.Header.Set("Allow", strings.Join(append(allow, fasthttp.MethodOptions), ", "))
			ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
			writeError(ctx, "Method not allowed.")
		default:
			var err error
			if !r.public {
				err = g.authenticate(ctx)
			}
			if err == nil {
				err = r.serve(g, ctx, params)
			}
			if err != nil {
				g.writeError(ctx, err)
			}
		}
		if g.Metrics != nil {
			g.Metrics.Request(template, methodLabel(method), ctx.Response.StatusCode(), time.Since(start))
		}
	}
}

func (g *Gateway) healthz(ctx *fasthttp.RequestCtx, _ []string) error {
	writeJSON(ctx, map[string]any{"status": "ok"})
	return nil
}

func (g *Gateway) readyz(ctx *fasthttp.RequestCtx, _ []string) error {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := g.bus.Ready(c); err != nil {
		// Say which part is missing: an operator reads this.
		return schema.Wrap(schema.Unavailable, "NATS is not ready: "+err.Error(), err)
	}
	if err := g.store.Ping(c); err != nil {
		return err
	}
	// Short result storage is shared by every instance: it is reported, not
	// made a 503 that would take them all out of a load balancer, when
	// downloads and cancels (which free room) still work.
	if err := g.bus.StorageShort(c); schema.ErrorCode(err) == schema.Full {
		writeJSON(ctx, map[string]any{"status": "degraded", "error": err.Error()})
		return nil
	} else if err != nil {
		return err
	}
	writeJSON(ctx, map[string]any{"status": "ready"})
	return nil
}

// network returns a network's metadata from the cache or ClickHouse. Past
// its MetadataTTL a cached network is still served while one request's
// goroutine reads it again: under load, every request that found it stale
// used to query ClickHouse at once.
func (g *Gateway) network(ctx context.Context, name string) (*schema.Network, error) {
	key := strings.ToLower(name)
	g.mu.Lock()
	c, ok := g.networks[key]
	stale := ok && g.Now().Sub(c.when) >= g.MetadataTTL && !c.refreshing
	if stale {
		c.refreshing = true
		g.networks[key] = c
	}
	g.mu.Unlock()
	if stale {
		// Not ctx: a fasthttp request context is reused once its
		// handler returns.
		go g.loadNetwork(context.Background(), key, name)
	}
	if ok {
		return c.n, nil
	}
	return g.loadNetwork(ctx, key, name)
}

// loadNetwork reads a network's metadata into the cache.
func (g *Gateway) loadNetwork(ctx context.Context, key, name string) (*schema.Network, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := g.store.Network(ctx, name)
	var lists *schema.ListsJSON
	if err == nil {
		lists = n.ListsJSON()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch c, ok := g.networks[key]; {
	case schema.ErrorCode(err) == schema.NotFound:
		delete(g.networks, key)
		return nil, err
	case err != nil && ok:
		c.refreshing = false // the next request tries again
		g.networks[key] = c
		return nil, err
	case err != nil:
		return nil, err
	}
	g.networks[key] = cachedNetwork{n: n, lists: lists, when: g.Now()}
	return n, nil
}

// listsOf returns n's lists as the answer to a request of all of them
// writes them (schema.ListsJSON): made once a load of the network's
// metadata, or, for a network no longer the one cached, now.
func (g *Gateway) listsOf(n *schema.Network) *schema.ListsJSON {
	g.mu.Lock()
	c := g.networks[strings.ToLower(n.Name)]
	g.mu.Unlock()
	if c.n == n && c.lists != nil {
		return c.lists
	}
	return n.ListsJSON()
}

// Package app is the one wiring of exportd: from a Config it opens
// ClickHouse, NATS (embedded or external) and the JetStream topology,
// starts the roles asked for, and closes them in reverse order. `exportd
// serve`, `exportd gateway|exporter` and internal/testenv all run it, so
// a test runs what users run.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/valyala/fasthttp"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/metrics"
	"github.com/plenario-next/exportd/internal/natsauth"
	"github.com/plenario-next/exportd/webhook"
)

// App is a running exportd. Its fields are set by Open, for Run, Close and
// tests; those of roles not run are nil.
type App struct {
	Config Config
	Store  *chstore.Store
	// NATS is the embedded server (nil on an external one) and Auth its
	// identities; Bus is connected as the service identity.
	NATS      *server.Server
	Auth      *natsauth.Auth
	Bus       *events.Bus
	Metrics   *metrics.Registry // one list, shared by every role
	Gateway   *gateway.Gateway
	Deliverer *events.Deliverer
	// HTTPAddr is where the API listens (RoleGateway), e.g. with port 0 asked.
	HTTPAddr net.Addr

	logger    *slog.Logger
	ownStore  bool
	ln        net.Listener
	srv       *fasthttp.Server
	srvErr    chan error
	closeOps  func(context.Context) error
	stopRoles context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Open opens the dependencies of c in order (ClickHouse, NATS, the
// topology, the listeners: a taken port fails here, before anything runs)
// and starts its roles. On an error, what was opened is closed again.
func Open(ctx context.Context, c Config) (*App, error) {
	if c.Roles == 0 {
		return nil, errors.New("app: no roles")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.NATSReconnectWait == 0 {
		c.NATSReconnectWait = 500 * time.Millisecond
	}
	a := &App{Config: c, logger: c.Logger, Store: c.Store}
	if err := a.open(ctx); err != nil {
		_ = a.Close(context.Background())
		return nil, err
	}
	a.start()
	return a, nil
}

func (a *App) open(ctx context.Context) error {
	c := &a.Config
	if a.Store == nil {
		store, err := chstore.Open(ctx, chstore.Config{Addr: c.ClickHouseAddr, Database: c.ClickHouseDB})
		if err != nil {
			return fmt.Errorf("clickhouse at %s: %w", c.ClickHouseAddr, err)
		}
		a.Store, a.ownStore = store, true
	}
	if c.DemoNetwork != "" && c.DemoRows > 0 {
		if err := seedIfEmpty(ctx, a.Store, c.DemoNetwork, c.DemoRows, a.logger); err != nil {
			return err
		}
	}
	if err := a.openNATS(ctx); err != nil {
		return err
	}
	a.Metrics = newMetrics(a.Bus)
	if c.MetricsAddr != "" {
		closeOps, err := serveOps(c.MetricsAddr, a.Metrics, a.Bus, a.Store, a.logger)
		if err != nil {
			return err
		}
		a.closeOps = closeOps
	}
	if c.Roles&RoleGateway != 0 {
		ln, err := net.Listen("tcp", c.HTTPAddr) // listen first: a taken port fails now
		if err != nil {
			return fmt.Errorf("http listen: %w", err)
		}
		a.ln, a.HTTPAddr = ln, ln.Addr()
		a.logger.Info("listening", "http", "http://"+ln.Addr().String(), "role", c.Roles.String())
		warnForgeableLinks(a.logger, c.URLRoot, ln.Addr())
	}
	return nil
}

// openNATS starts the embedded server (no NATSURL) or connects to the
// external one, and opens the JetStream topology on the connection.
func (a *App) openNATS(ctx context.Context) error {
	c := &a.Config
	url, opts := c.NATSURL, c.NATS.connectOptions()
	if url == "" {
		maxStore, results, err := embeddedLimits(*c, a.logger)
		if err != nil {
			return err
		}
		c.Events.ResultMaxBytes = results
		if a.NATS, a.Auth, err = startNATS(*c, maxStore, a.logger); err != nil {
			return err
		}
		// In process, TLS is neither needed nor asked for, and the service
		// is its own identity; an nkey is for an external server only.
		url = strings.Replace(a.NATS.ClientURL(), "tls://", "nats://", 1)
		opts.InProcess, opts.User, opts.Password, opts.NKeySeedFile = a.NATS, a.Auth.Service.User, a.Auth.Service.Password, ""
	}
	opts.Name, opts.ReconnectWait, opts.Logger = "exportd-"+c.Roles.String(), c.NATSReconnectWait, a.logger
	var err error
	a.Bus, err = events.Connect(ctx, url, opts, c.Events)
	return err
}

// start runs the roles, each in a goroutine until Close.
func (a *App) start() {
	c, logger := &a.Config, a.logger
	ctx, cancel := context.WithCancel(context.Background())
	a.stopRoles = cancel
	goRun := func(name string, f func(context.Context) error) {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := f(ctx); err != nil {
				logger.Error(name+" stopped", "err", err)
			}
		}()
	}
	if c.AtStart != nil {
		goRun("at start", func(ctx context.Context) error { return c.AtStart(ctx, a.Store) })
	}
	host, _ := os.Hostname()
	worker := fmt.Sprintf("%s-%d", host, os.Getpid())
	if c.Roles&RoleProjector != 0 {
		pr := events.NewProjector(a.Bus, logger.With("component", "projector"))
		pr.Metrics = a.Metrics
		goRun("projector", pr.Run)
		a.Deliverer = a.newDeliverer()
		goRun("webhooks", a.Deliverer.Run)
	}
	if c.Roles&RoleExporter != 0 {
		pl := exporter.NewPlanner(a.Bus, a.Store, logger.With("component", "planner"))
		pl.Name = "planner-" + worker
		if c.PartRows > 0 {
			pl.PartRows = c.PartRows
		}
		goRun("planner", pl.Run)
		ex := exporter.NewExporter(a.Bus, a.Store, logger.With("component", "exporter"))
		ex.Name, ex.Metrics = "exporter-"+worker, a.Metrics
		if c.Concurrency > 0 {
			ex.Concurrency = c.Concurrency
		}
		goRun("exporter", ex.Run)
	}
	if c.Roles&RoleGateway != 0 {
		a.Gateway = a.newGateway()
		goRun("gateway", a.Gateway.Run)
		a.srv = a.Gateway.Server()
		a.srvErr = make(chan error, 1)
		go func() { a.srvErr <- a.srv.Serve(a.ln) }()
	}
}

func (a *App) newGateway() *gateway.Gateway {
	c := &a.Config
	gw := gateway.New(a.Bus, a.Store, a.logger.With("component", "gateway"))
	gw.URLRoot, gw.Metrics = c.URLRoot, a.Metrics
	gw.APIKeys, gw.MaxActive = c.APIKeys, c.MaxActive
	gw.SSEHeartbeat, gw.QueryLimits = c.SSEHeartbeat, c.QueryLimits
	gw.WebhookPolicy, gw.MaxWebhooks = c.Webhooks.Policy(), c.Webhooks.MaxEndpoints
	if c.Now != nil {
		gw.Now = c.Now
	}
	return gw
}

// newDeliverer is the webhook deliverer, on exportd's own NATS identity.
func (a *App) newDeliverer() *events.Deliverer {
	w := a.Config.Webhooks
	d := events.NewDeliverer(a.Bus, webhook.NewClient(w.Policy(), w.Timeout), a.logger.With("component", "webhooks"))
	d.Keyed, d.Metrics = len(a.Config.APIKeys) > 0, a.Metrics
	if w.Backoff > 0 {
		d.Backoff = w.Backoff
	}
	if w.MaxBackoff > 0 {
		d.MaxBackoff = w.MaxBackoff
	}
	if w.MaxAge > 0 {
		d.MaxAge = w.MaxAge
	}
	if a.Config.Now != nil {
		d.Now = a.Config.Now
	}
	return d
}

// Run waits until ctx is done or the HTTP server stops on its own.
func (a *App) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case err := <-a.srvErr: // nil channel without a gateway: never
		a.logger.Error("http server stopped", "err", err)
	}
	return nil
}

// Close stops what Open started in reverse order, within ctx: HTTP, the
// roles' consumers, NATS (drained), the operations listener, the embedded
// server, ClickHouse (if Open opened it). It may be called more than once.
func (a *App) Close(ctx context.Context) error {
	a.closeOnce.Do(func() {
		if a.srv != nil {
			_ = a.srv.ShutdownWithContext(ctx)
		} else if a.ln != nil {
			_ = a.ln.Close()
		}
		if a.stopRoles != nil {
			a.stopRoles()
			a.wg.Wait()
		}
		if a.Bus != nil {
			a.Bus.Close() // drains the connection
		}
		if a.closeOps != nil {
			_ = a.closeOps(ctx)
		}
		if a.NATS != nil {
			a.NATS.Shutdown()
			a.NATS.WaitForShutdown()
		}
		if a.ownStore {
			_ = a.Store.Close()
		}
	})
	return nil
}

// String names the roles, as exportd's commands do.
func (r Roles) String() string {
	switch r {
	case RoleAll:
		return "serve"
	case RoleGateway:
		return "gateway"
	case RoleProjector | RoleExporter:
		return "exporter"
	}
	var names []string
	for _, n := range []struct {
		r    Roles
		name string
	}{{RoleGateway, "gateway"}, {RoleProjector, "projector"}, {RoleExporter, "exporter"}} {
		if r&n.r != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, "+")
}

func seedIfEmpty(ctx context.Context, store *chstore.Store, network string, rows int64, logger *slog.Logger) error {
	has, err := store.HasData(ctx, network)
	if err != nil || has {
		return err
	}
	start := time.Now()
	logger.Info("loading demo data", "network", network, "rows", rows)
	if err := store.Seed(ctx, chstore.DemoNetwork(network), rows, time.Now()); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	logger.Info("demo data loaded", "network", network, "rows", rows, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

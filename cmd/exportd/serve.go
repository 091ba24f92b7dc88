package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/natsauth"
)

const shutdownTimeout = 20 * time.Second

func newLogger(c Config, out io.Writer) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	format := c.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := out.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(out, opts))
	}
	return slog.New(slog.NewJSONHandler(out, opts))
}

// serve runs the roles of c until ctx is done, then closes in reverse
// order: HTTP, consumers, NATS, ClickHouse.
func serve(ctx context.Context, c Config, stdout io.Writer) error {
	logger := newLogger(c, stdout)

	store, err := chstore.Open(ctx, chstore.Config{Addr: c.ClickHouseAddr, Database: c.ClickHouseDB})
	if err != nil {
		return fmt.Errorf("clickhouse at %s: %w", c.ClickHouseAddr, err)
	}
	defer store.Close()
	if c.Role == "serve" && c.DemoNetwork != "" && c.DemoRows > 0 {
		if err := seedIfEmpty(ctx, store, c.DemoNetwork, c.DemoRows, logger); err != nil {
			return err
		}
	}

	var ns *server.Server
	natsURL := c.NATSURL
	natsOpts := c.NATS.clientOptions()
	if natsURL == "" {
		var auth *natsauth.Auth
		if c.natsMaxStore, c.ResultMaxBytes, err = embeddedLimits(c, logger); err != nil {
			return err
		}
		if ns, auth, err = startNATS(c, logger); err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		// In process, TLS is neither needed nor asked for.
		natsURL = strings.Replace(ns.ClientURL(), "tls://", "nats://", 1)
		natsOpts = append(natsOpts, nats.InProcessServer(ns), auth.Service.Option())
	} else if opt, err := c.NATS.nkeyOption(); err != nil {
		return err
	} else if opt != nil {
		natsOpts = append(natsOpts, opt)
	}
	natsOpts = append(natsOpts, nats.Name("exportd-"+c.Role), nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond), nats.RetryOnFailedConnect(true),
		// Refused credentials and denied subjects show here, not as a hang.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { logger.Warn("nats", "err", err) }))
	nc, err := nats.Connect(natsURL, natsOpts...)
	if err != nil {
		return fmt.Errorf("nats at %s: %w", natsURL, err)
	}
	defer nc.Close()
	bus, err := events.Open(ctx, nc, events.Config{Replicas: c.Replicas, Retention: c.Retention,
		PartAckWait: c.PartAckWait, MaxDeliver: c.MaxAttempts, IdemWindow: c.IdemWindow, OutageTolerance: c.OutageTolerance,
		ResultMaxBytes: c.ResultMaxBytes})
	if err != nil {
		if last := nc.LastError(); last != nil { // e.g. refused credentials, which say more
			return fmt.Errorf("nats at %s: %w (jetstream topology: %v)", natsURL, last, err)
		}
		return fmt.Errorf("jetstream topology: %w", err)
	}
	reg := newMetrics(bus)

	host, _ := os.Hostname()
	worker := fmt.Sprintf("%s-%d", host, os.Getpid())
	runCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	goRun := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(runCtx); err != nil {
				logger.Error(name+" stopped", "err", err)
			}
		}()
	}
	if c.Role == "serve" && c.Load != "" {
		goRun("digest load", func(ctx context.Context) error { return loadAtStart(ctx, store, c.Load, logger) })
	}
	if c.Role != "gateway" {
		pr := events.NewProjector(bus, logger.With("component", "projector"))
		pr.Metrics = reg
		goRun("projector", pr.Run)
		pl := exporter.NewPlanner(bus, store, logger.With("component", "planner"))
		pl.Name, pl.PartRows = "planner-"+worker, c.PartRows
		goRun("planner", pl.Run)
		ex := exporter.NewExporter(bus, store, logger.With("component", "exporter"))
		ex.Name, ex.Concurrency, ex.Metrics, ex.NoJSON = "exporter-"+worker, c.Concurrency, reg, !c.JSONParts
		goRun("exporter", ex.Run)
		goRun("webhooks", newDeliverer(c, bus, reg, logger.With("component", "webhooks")).Run)
	}

	if c.MetricsAddr != "" {
		closeOps, err := serveOps(c.MetricsAddr, reg, bus, store, logger)
		if err != nil {
			stopWorkers()
			wg.Wait()
			return err
		}
		defer func() { _ = closeOps(context.Background()) }()
	}

	var srvErr chan error
	var closeHTTP func(context.Context) error
	if c.Role != "exporter" {
		gw := gateway.New(bus, store, logger.With("component", "gateway"))
		gw.URLRoot, gw.Metrics = c.URLRoot, reg
		gw.APIKeys, gw.MaxActive = c.APIKeys, c.MaxActive
		gw.SSEHeartbeat = c.SSEHeartbeat
		gw.QueryLimits = c.QueryLimits
		gw.WebhookPolicy, gw.MaxWebhooks = c.Webhooks.policy(), c.Webhooks.MaxEndpoints
		goRun("gateway", gw.Run)
		srv := gw.Server()
		ln, err := net.Listen("tcp", c.HTTPAddr) // listen first: a taken port fails now
		if err != nil {
			stopWorkers()
			wg.Wait()
			return fmt.Errorf("http listen: %w", err)
		}
		logger.Info("listening", "http", "http://"+ln.Addr().String(), "role", c.Role)
		warnForgeableLinks(logger, c.URLRoot, ln.Addr())
		if f, ok := stdout.(interface{ Sync() error }); ok {
			_ = f.Sync()
		}
		srvErr = make(chan error, 1)
		go func() { srvErr <- srv.Serve(ln) }()
		closeHTTP = srv.ShutdownWithContext
	}

	select {
	case <-ctx.Done():
	case err := <-srvErr:
		logger.Error("http server stopped", "err", err)
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if closeHTTP != nil {
		_ = closeHTTP(shutCtx)
	}
	stopWorkers()
	wg.Wait()
	_ = nc.Drain()
	return nil
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

package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/app"
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

// serve runs the roles of c until ctx is done, then closes them in
// reverse order under shutdownTimeout.
func serve(ctx context.Context, c Config, stdout io.Writer) error {
	logger := newLogger(c, stdout)
	a, err := app.Open(ctx, c.app(logger))
	if err != nil {
		return err
	}
	if f, ok := stdout.(interface{ Sync() error }); ok {
		_ = f.Sync()
	}
	_ = a.Run(ctx)
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return a.Close(shutCtx)
}

// app is the wiring's Config of c: the roles of its command, the demo
// data and digest of serve alone.
func (c Config) app(logger *slog.Logger) app.Config {
	roles := map[string]app.Roles{"serve": app.RoleAll, "gateway": app.RoleGateway,
		"exporter": app.RoleProjector | app.RoleExporter}[c.Role]
	a := app.Config{Roles: roles, HTTPAddr: c.HTTPAddr, URLRoot: c.URLRoot, MetricsAddr: c.MetricsAddr,
		ClickHouseAddr: c.ClickHouseAddr, ClickHouseDB: c.ClickHouseDB,
		NATSURL: c.NATSURL, NATSListen: c.NATSListen, NATS: c.NATS, DataDir: c.DataDir,
		Events: events.Config{Replicas: c.Replicas, Retention: c.Retention, PartAckWait: c.PartAckWait,
			MaxDeliver: c.MaxAttempts, IdemWindow: c.IdemWindow, OutageTolerance: c.OutageTolerance,
			ResultMaxBytes: c.ResultMaxBytes},
		PartRows: c.PartRows, Concurrency: c.Concurrency,
		APIKeys: c.APIKeys, MaxActive: c.MaxActive, QueryLimits: c.QueryLimits, SSEHeartbeat: c.SSEHeartbeat,
		Webhooks: c.Webhooks, Logger: logger}
	if c.Role == "serve" {
		a.DemoNetwork, a.DemoRows = c.DemoNetwork, c.DemoRows
		if path := c.Load; path != "" {
			a.AtStart = func(ctx context.Context, store *chstore.Store) error { return loadAtStart(ctx, store, path, logger) }
		}
	}
	return a
}

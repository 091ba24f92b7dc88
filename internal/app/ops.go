package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/metrics"
	"github.com/plenario-next/exportd/schema"
)

// newMetrics returns the process's metrics, with the lag of the three
// durable consumers read from JetStream at each scrape.
func newMetrics(bus *events.Bus) *metrics.Registry {
	reg := metrics.New()
	reg.WatchConsumers(func(ctx context.Context, stream, consumer string) (metrics.Lag, error) {
		l, err := bus.ConsumerLag(ctx, stream, consumer)
		return metrics.Lag{Pending: l.Pending, AckPending: l.AckPending, Redelivered: l.Redelivered}, err
	},
		metrics.Consumer{Stream: events.EventStream, Name: events.PlannerName},
		metrics.Consumer{Stream: events.PartStream, Name: events.ExporterName},
		metrics.Consumer{Stream: events.PartStream, Name: events.ExpressName},
		metrics.Consumer{Stream: events.EventStream, Name: events.ProjectorName})
	reg.WatchStorage(func(ctx context.Context) (int64, int64, error) {
		u, err := bus.ResultUsage(ctx)
		return u.Used, u.Limit, err
	})
	return reg
}

// serveOps serves /metrics, /healthz, /readyz and /debug/pprof/ on addr: how an exporter,
// which has no HTTP API, is scraped and probed. It listens before it
// returns, so a taken port fails at once.
func serveOps(addr string, reg *metrics.Registry, bus *events.Bus, store *chstore.Store, logger *slog.Logger) (func(context.Context) error, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	// Profiles, on the operations listener only: where a process's time goes.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := bus.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"error":"NATS is not ready"}`)
			return
		}
		if err := store.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"error":"ClickHouse is not reachable"}`)
			return
		}
		if err := bus.StorageShort(ctx); schema.ErrorCode(err) == schema.Full { // reported; see gateway's readyz
			b, _ := json.Marshal(map[string]string{"status": "degraded", "error": err.Error()})
			fmt.Fprintln(w, string(b))
			return
		}
		fmt.Fprintln(w, `{"status":"ready"}`)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	logger.Info("serving metrics", "http", "http://"+ln.Addr().String()+"/metrics")
	return srv.Shutdown, nil
}

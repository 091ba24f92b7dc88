package app

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/webhook"
)

// Roles are the parts of exportd one process runs.
type Roles uint8

const (
	// RoleGateway is the HTTP API.
	RoleGateway Roles = 1 << iota
	// RoleProjector is the event consumers: the projector that folds
	// events into job documents and the webhook deliverer.
	RoleProjector
	// RoleExporter is the planner and the exporters.
	RoleExporter
	// RoleAll is exportd serve: everything in one process.
	RoleAll = RoleGateway | RoleProjector | RoleExporter
)

// Config is every setting of the service. cmd/exportd fills it from flags
// and the environment, internal/testenv from a test's options; its zero
// value is a working service on the defaults, except that Roles must be
// set.
type Config struct {
	Roles       Roles
	HTTPAddr    string // the API's listener (RoleGateway); port 0 picks one
	URLRoot     string // prefix of result links; empty: the request's Host
	MetricsAddr string // a separate listener for /metrics, /healthz, /readyz; empty: none

	ClickHouseAddr, ClickHouseDB string
	// Store, when set, is used instead of opening ClickHouseAddr and is
	// not closed by Close (tests pass stores with settings or proxies).
	Store *chstore.Store

	NATSURL    string // empty: start an embedded server
	NATSListen string // where the embedded server takes clients; port 0 picks one
	NATS       NATSSettings
	// NATSReconnectWait is the pause between reconnect attempts (default 500ms).
	NATSReconnectWait time.Duration
	DataDir           string // the embedded server stores under DataDir/nats

	// Events are the JetStream settings (retention, replicas, ack wait,
	// deliveries, idempotency window, outage tolerance, result limit).
	// On an embedded server a zero ResultMaxBytes is a share of the disk.
	Events events.Config

	PartRows    int64 // 0: exporter.DefaultPartRows
	Concurrency int   // partitions exported at once; 0: the exporter's default

	APIKeys      []string
	MaxActive    int // queued or running jobs per client; 0: no limit
	QueryLimits  gateway.QueryLimits
	SSEHeartbeat time.Duration
	Webhooks     WebhookSettings

	// DemoNetwork of DemoRows rows is loaded when ClickHouse has none of
	// it; empty: none.
	DemoNetwork string
	DemoRows    int64
	// AtStart, when set, runs in the background once everything is open
	// (exportd serve's EXPORTD_LOAD).
	AtStart func(ctx context.Context, store *chstore.Store) error

	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default time.Now
}

// WebhookSettings are the EXPORTD_WEBHOOK_* settings; zero durations and
// counts are the deliverer's and gateway's defaults.
type WebhookSettings struct {
	Allow                       []netip.Prefix
	Timeout                     time.Duration
	Backoff, MaxBackoff, MaxAge time.Duration
	MaxEndpoints                int
}

// Policy is the webhook policy of these settings.
func (w WebhookSettings) Policy() webhook.Policy { return webhook.Policy{Allow: w.Allow} }

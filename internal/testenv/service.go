package testenv

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/metrics"
	"github.com/plenario-next/exportd/internal/natsauth"
	"github.com/plenario-next/exportd/schema"
	"github.com/plenario-next/exportd/webhook"
)

// Service is a whole exportd in the test process: gateway, projector,
// planner and exporter on an embedded nats-server and a fresh ClickHouse
// database.
type Service struct {
	URL   string // http://127.0.0.1:port, no trailing slash
	Store *chstore.Store
	NATS  *server.Server
	// Auth holds the embedded server's identities, as exportd serve makes
	// them (nil with ServiceOptions.NATSURL); NC is connected as its
	// service identity.
	Auth *natsauth.Auth
	NC   *nats.Conn
	Bus  *events.Bus
	Gw   *gateway.Gateway
	// Metrics is shared by the gateway, projector and exporter, as in exportd.
	Metrics *metrics.Registry
	// Deliverer delivers webhooks, as in exportd serve.
	Deliverer *events.Deliverer

	stopOnce sync.Once
	stop     func()
}

// ServiceOptions tune StartService; the zero value is fine.
type ServiceOptions struct {
	Events      events.Config
	PartRows    int64 // default exporter.DefaultPartRows
	Concurrency int   // default 2
	NoExporter  bool  // gateway and projector only
	NoJSON      bool  // parts stored as CSV only (EXPORTD_JSON_PARTS=false)
	APIKeys     []string
	URLRoot     string              // the gateway's EXPORTD_URL_ROOT; default none: the request's Host
	MaxActive   int                 // default 0: no limit in tests
	QueryLimits gateway.QueryLimits // default: gateway's defaults
	Store       *chstore.Store
	Logger      *slog.Logger // default TestLogger()
	// NATSURL, when set, is the NATS server or cluster (comma-separated
	// URLs) to use instead of starting an embedded server; Service.NATS is
	// then nil. The connection reconnects without limit.
	NATSURL string
	// WebhookAllow widens the webhook policy (EXPORTD_WEBHOOK_ALLOW), e.g.
	// to 127.0.0.0/8 for a receiver in the test; WebhookBackoff and
	// WebhookMaxAge shape the deliverer's retries (defaults if 0).
	WebhookAllow   []netip.Prefix
	WebhookBackoff time.Duration
	WebhookMaxAge  time.Duration
}

// TestLogger logs to stderr when EXPORTD_TEST_LOG is set, else nowhere.
func TestLogger() *slog.Logger {
	if os.Getenv("EXPORTD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// StartService starts a Service and stops it when the test ends.
func StartService(tb testing.TB, o ServiceOptions) *Service {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{Store: o.Store}
	if s.Store == nil {
		s.Store = MustOpenStore(tb)
	}
	var nc *nats.Conn
	var err error
	if o.NATSURL != "" {
		nc, err = nats.Connect(o.NATSURL, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	} else {
		s.NATS, s.Auth = MustStartAuthNATS(tb, o.APIKeys)
		nc, err = nats.Connect(s.NATS.ClientURL(), s.Auth.Service.Option())
	}
	if err != nil {
		tb.Fatal(err)
	}
	s.NC = nc
	s.Bus, err = events.Open(ctx, nc, o.Events)
	if err != nil {
		tb.Fatal(err)
	}
	logger := o.Logger
	if logger == nil {
		logger = TestLogger()
	}
	s.Metrics = metrics.New()
	s.Metrics.WatchConsumers(s.Bus.JS, metrics.Consumer{Stream: events.EventStream, Name: events.PlannerName},
		metrics.Consumer{Stream: events.PartStream, Name: events.ExporterName},
		metrics.Consumer{Stream: events.PartStream, Name: events.ExpressName},
		metrics.Consumer{Stream: events.EventStream, Name: events.ProjectorName})
	var wg sync.WaitGroup
	start := func(f func(context.Context) error) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = f(ctx) }()
	}
	pr := events.NewProjector(s.Bus, logger)
	pr.Metrics = s.Metrics
	start(pr.Run)
	if !o.NoExporter {
		pl := exporter.NewPlanner(s.Bus, s.Store, logger)
		if o.PartRows > 0 {
			pl.PartRows = o.PartRows
		}
		start(pl.Run)
		ex := exporter.NewExporter(s.Bus, s.Store, logger)
		ex.Concurrency, ex.NoJSON = 2, o.NoJSON
		ex.Metrics = s.Metrics
		if o.Concurrency > 0 {
			ex.Concurrency = o.Concurrency
		}
		start(ex.Run)
	}
	policy := webhook.Policy{Allow: o.WebhookAllow}
	s.Deliverer = events.NewDeliverer(s.Bus, webhook.NewClient(policy, 0), logger)
	s.Deliverer.Keyed, s.Deliverer.Metrics = len(o.APIKeys) > 0, s.Metrics
	if o.WebhookBackoff > 0 {
		s.Deliverer.Backoff, s.Deliverer.MaxBackoff = o.WebhookBackoff, 4*o.WebhookBackoff
	}
	if o.WebhookMaxAge > 0 {
		s.Deliverer.MaxAge = o.WebhookMaxAge
	}
	start(s.Deliverer.Run)
	s.Gw = gateway.New(s.Bus, s.Store, logger)
	s.Gw.APIKeys, s.Gw.MaxActive, s.Gw.Metrics = o.APIKeys, o.MaxActive, s.Metrics
	s.Gw.URLRoot = o.URLRoot
	s.Gw.QueryLimits = o.QueryLimits
	s.Gw.WebhookPolicy = policy
	start(s.Gw.Run)
	srv := s.Gw.Server()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.URL = "http://" + ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	s.stop = func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = srv.ShutdownWithContext(sctx)
		cancel()
		wg.Wait()
		nc.Close()
	}
	tb.Cleanup(s.Stop)
	return s
}

// Stop stops the service as exportd stops on SIGTERM: HTTP, then its
// consumers, then its NATS connection. The NATS server (and the
// ClickHouse database) stay, so that a service started again on them is
// a restart.
func (s *Service) Stop() { s.stopOnce.Do(s.stop) }

// Connect connects to the service's embedded server as id (one of
// s.Auth's identities) and closes the connection when the test ends.
func (s *Service) Connect(tb testing.TB, id natsauth.Identity) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.NATS.ClientURL(), id.Option())
	if err != nil {
		tb.Fatalf("connect as %s: %v", id.User, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// Submit asks for an export of network with the raw query string q and
// returns the ticket; any answer but 200 fails the test.
func (s *Service) Submit(tb testing.TB, network, q string) string {
	tb.Helper()
	code, body := Get(tb, s.URL+"/v1/api/sensor-networks/"+network+"/download?"+q)
	if code != 200 {
		tb.Fatalf("submit %s: got %d %s, want 200", q, code, body)
	}
	var j schema.Job
	if err := json.Unmarshal(body, &j); err != nil || !schema.IsTicket(j.Ticket) {
		tb.Fatalf("submit: bad ticket document %s (%v)", body, err)
	}
	return j.Ticket
}

// Job returns GET /v1/api/jobs/{ticket}; any answer but 200 fails the test.
func (s *Service) Job(tb testing.TB, ticket string) schema.Job {
	tb.Helper()
	code, body := Get(tb, s.URL+"/v1/api/jobs/"+ticket)
	if code != 200 {
		tb.Fatalf("poll job: got %d %s", code, body)
	}
	var j schema.Job
	if err := json.Unmarshal(body, &j); err != nil {
		tb.Fatal(err)
	}
	return j
}

// Wait polls the job until it is finished or the deadline passes, and
// returns the last document.
func (s *Service) Wait(tb testing.TB, ticket string, within time.Duration) schema.Job {
	tb.Helper()
	var j schema.Job
	Eventually(tb, within, "job "+ticket+" finished", func() bool {
		j = s.Job(tb, ticket)
		return schema.TerminalStatus(j.Status.Status)
	})
	return j
}

// WaitPartStored polls the job until it is processing with a part stored.
func (s *Service) WaitPartStored(tb testing.TB, ticket string, within time.Duration) {
	tb.Helper()
	Eventually(tb, within, "job "+ticket+" processing with a part stored", func() bool {
		j := s.Job(tb, ticket)
		return j.Status.Status == schema.StatusProcessing && j.Status.Progress.Done >= 1
	})
}

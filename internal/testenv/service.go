package testenv

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/gateway"
	"github.com/plenario-next/exportd/internal/app"
	"github.com/plenario-next/exportd/internal/metrics"
	"github.com/plenario-next/exportd/internal/natsauth"
	"github.com/plenario-next/exportd/schema"
)

// Service is a whole exportd in the test process, wired by internal/app
// as exportd serve is: gateway, projector, webhook deliverer, planner and
// exporter on an embedded nats-server (in a temporary directory, with the
// identities exportd makes) and a fresh ClickHouse database.
type Service struct {
	URL   string // http://127.0.0.1:port, no trailing slash
	Store *chstore.Store
	NATS  *server.Server
	// Auth holds the embedded server's identities, as exportd serve makes
	// them (nil with ServiceOptions.NATSURL).
	Auth *natsauth.Auth
	// NC and JS are the test's own client of the service's NATS, connected
	// as its service identity: what a test looks at (streams, consumers,
	// the raw events) and breaks (a deleted stream) beside the service,
	// whose Bus keeps its own connection sealed.
	NC  *nats.Conn
	JS  jetstream.JetStream
	Bus *events.Bus
	Gw  *gateway.Gateway
	// Metrics is shared by the gateway, projector and exporter, as in exportd.
	Metrics *metrics.Registry
	// Deliverer delivers webhooks, as in exportd serve.
	Deliverer *events.Deliverer
	// App is the wiring itself.
	App *app.App

	cfg      app.Config
	stopOnce sync.Once
}

// ServiceOptions tune StartService; the zero value is fine.
type ServiceOptions struct {
	Events      events.Config
	PartRows    int64 // default exporter.DefaultPartRows
	Concurrency int   // default 2
	NoExporter  bool  // gateway, projector and deliverer only
	NoProjector bool  // no job records are written: the gateway sees only events
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

// StartService starts a Service and stops it when the test ends. It only
// fills an app.Config: loopback ports picked by the system, a temporary
// data directory, a fresh database.
func StartService(tb testing.TB, o ServiceOptions) *Service {
	tb.Helper()
	c := app.Config{Roles: app.RoleAll, HTTPAddr: "127.0.0.1:0", URLRoot: o.URLRoot,
		Store: o.Store, NATSURL: o.NATSURL, NATSListen: "127.0.0.1:0", DataDir: tb.TempDir(),
		NATSReconnectWait: 250 * time.Millisecond, Events: o.Events,
		PartRows: o.PartRows, Concurrency: 2,
		APIKeys: o.APIKeys, MaxActive: o.MaxActive, QueryLimits: o.QueryLimits,
		Webhooks: app.WebhookSettings{Allow: o.WebhookAllow, Backoff: o.WebhookBackoff,
			MaxBackoff: 4 * o.WebhookBackoff, MaxAge: o.WebhookMaxAge},
		Logger: o.Logger}
	if o.NoExporter {
		c.Roles = app.RoleGateway | app.RoleProjector
	}
	if o.NoProjector {
		c.Roles &^= app.RoleProjector
	}
	if o.Concurrency > 0 {
		c.Concurrency = o.Concurrency
	}
	if c.Store == nil {
		c.Store = MustOpenStore(tb)
	}
	if c.Logger == nil {
		c.Logger = TestLogger()
	}
	return start(tb, c)
}

func start(tb testing.TB, c app.Config) *Service {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Open(ctx, c)
	if err != nil {
		tb.Fatalf("start exportd: %v", err)
	}
	s := &Service{URL: "http://" + a.HTTPAddr.String(), Store: a.Store, NATS: a.NATS, Auth: a.Auth,
		Bus: a.Bus, Gw: a.Gateway, Metrics: a.Metrics, Deliverer: a.Deliverer, App: a, cfg: c}
	tb.Cleanup(s.Stop)
	s.NC, s.JS = s.client(tb, c.NATSURL)
	return s
}

// client connects the test's own client: to the embedded server as the
// service identity, or to the external url as the service does. Stop
// closes it, as the service's own connection closes.
func (s *Service) client(tb testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	var opts []nats.Option
	if url == "" {
		url = s.NATS.ClientURL()
		opts = append(opts, nats.UserInfo(s.Auth.Service.User, s.Auth.Service.Password))
	}
	nc, err := nats.Connect(url, append(opts, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))...)
	if err != nil {
		tb.Fatalf("test's NATS client: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return nc, js
}

// Stop stops the service as exportd stops on SIGTERM: HTTP, its
// consumers, its NATS connection, the embedded NATS server. The NATS
// storage (or the external server) and the ClickHouse database stay, so
// that Restart, or a service started again on them, is a restart.
func (s *Service) Stop() {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.App.Close(ctx)
		if s.NC != nil {
			s.NC.Close()
		}
	})
}

// Restart stops s and starts the same service again on the same NATS
// storage (and identities) and database, as exportd restarts.
func (s *Service) Restart(tb testing.TB) *Service {
	tb.Helper()
	s.Stop()
	return start(tb, s.cfg)
}

// Connect connects to the service's embedded server as id (one of
// s.Auth's identities) and closes the connection when the test ends.
func (s *Service) Connect(tb testing.TB, id natsauth.Identity) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.NATS.ClientURL(), nats.UserInfo(id.User, id.Password))
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

// Settled waits until the projector has folded every event published so
// far and the gateway serves ticket's record as the KV holds it: the
// gateway's cache follows the KV by a watch, and both lag the events, so
// that a test that read one of them (or stopped an exporter that was
// finishing a part) and then reads the other may see two states.
func (s *Service) Settled(tb testing.TB, ticket string) {
	tb.Helper()
	ctx := context.Background()
	done := func(j schema.Job) int {
		if j.Status.Progress == nil {
			return -1
		}
		return j.Status.Progress.Done
	}
	Eventually(tb, 30*time.Second, "the events of "+ticket+" folded and served", func() bool {
		lag, err := s.Bus.ConsumerLag(ctx, events.EventStream, events.ProjectorName)
		if err != nil || lag.Pending+lag.AckPending > 0 {
			return false
		}
		rec, _, err := s.Bus.Job(ctx, ticket)
		if err != nil {
			return false
		}
		j := s.Job(tb, ticket)
		return j.Status.Status == rec.Job.Status.Status && done(j) == done(rec.Job)
	})
}

// WaitPartStored polls the job until it is processing with a part stored.
func (s *Service) WaitPartStored(tb testing.TB, ticket string, within time.Duration) {
	tb.Helper()
	Eventually(tb, within, "job "+ticket+" processing with a part stored", func() bool {
		j := s.Job(tb, ticket)
		return j.Status.Status == schema.StatusProcessing && j.Status.Progress.Done >= 1
	})
}

// Jobs is the job bucket, as the test's own client sees it.
func (s *Service) Jobs(tb testing.TB) jetstream.KeyValue {
	tb.Helper()
	kv, err := s.JS.KeyValue(context.Background(), events.JobBucket)
	if err != nil {
		tb.Fatal(err)
	}
	return kv
}

// ObjectStore is one of the result stores (events.ResultBucket, …), as
// the test's own client sees it.
func (s *Service) ObjectStore(tb testing.TB, bucket string) jetstream.ObjectStore {
	tb.Helper()
	store, err := s.JS.ObjectStore(context.Background(), bucket)
	if err != nil {
		tb.Fatal(err)
	}
	return store
}

// Package events is the only owner of exportd's JetStream topology: the
// event stream (every status change of every job, and the queue of accepted
// requests), the work queue of partitions, the KV bucket of job documents
// and the object store of results. It turns JetStream messages into schema
// types and back, and it holds the projector that folds events into the KV.
package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// Names of the JetStream assets.
const (
	EventStream  = "EXPORT_EVENTS"
	PartStream   = "EXPORT_PARTS"
	JobBucket    = "export_jobs"
	ResultBucket = "export_results"
	PlannerName  = "planner"
	ExporterName = "exporter"
	// ExpressName is the exporters' consumer of the express lane (the
	// first parts of every job); ExporterName's is the bulk lane.
	ExpressName   = "exporter-express"
	ProjectorName = "projector"
	// ProjectorGroup is the priority group of the pinned projector consumer.
	ProjectorGroup = "projector"
)

// The projector's workers and the events it holds at once, and how much
// longer than the ack wait its pin lasts when the pinned process goes silent.
const (
	ProjectorWorkers = 8
	ProjectorBuffer  = 64
	pinMargin        = 5 * time.Second
)

// Defaults for Config.
const (
	DefaultRetention   = 7 * 24 * time.Hour
	DefaultPartAckWait = 30 * time.Second
	DefaultMaxDeliver  = 6
	DefaultDedupWindow = 10 * time.Minute
	MaxChunkSize       = 1 << 20
	DefaultIdemWindow  = 10 * time.Minute
	// DefaultOutageTolerance outlasts a restart of ClickHouse or of a NATS
	// node, or a leader election, with room to spare.
	DefaultOutageTolerance = 5 * time.Minute
)

// Config shapes the topology. The zero Config is valid: one replica, file
// storage, seven days of retention.
type Config struct {
	Replicas    int           // 1, or 3 on a cluster
	Retention   time.Duration // results, documents and events live this long
	PartAckWait time.Duration // a silent process loses its partition (or request, or event) after this
	MaxDeliver  int           // deliveries of a request or partition before the job fails
	Memory      bool          // memory storage instead of file: for benchmarks only
	IdemWindow  time.Duration // a repeated request returns the same ticket within this window
	// ResultMaxBytes limits the result store; 0 keeps the limit it has
	// (none when new).
	ResultMaxBytes int64
	// OutageTolerance is how long a request or partition rides out
	// ClickHouse or NATS being unavailable (retried with backoff, no
	// delivery counted) before its job fails: 0 is
	// DefaultOutageTolerance, negative not at all.
	OutageTolerance time.Duration
}

func (c *Config) defaults() {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.PartAckWait == 0 {
		c.PartAckWait = DefaultPartAckWait
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.IdemWindow == 0 {
		c.IdemWindow = DefaultIdemWindow
	}
	if c.OutageTolerance == 0 {
		c.OutageTolerance = DefaultOutageTolerance
	}
}

// Bus is a handle on the topology.
//
// Its JetStream handles are its own: the rest of exportd speaks our types
// (Delivery, StoredPart, JobChange, ConsumerLag) through its methods, so
// that nats.go is imported here and nowhere else in the service.
type Bus struct {
	Config Config

	nc      *nats.Conn
	ownConn bool // made by Connect: Close drains it
	js      jetstream.JetStream
	// chunkJS publishes parts' chunks: its async publishes time out
	// (chunkAckWait), the Bus's other ones are waited for by their callers.
	chunkJS jetstream.JetStream
	jobs    jetstream.KeyValue
	results jetstream.ObjectStore

	streamsMu sync.Mutex
	streams   map[string]jetstream.Stream // object store streams by bucket, for reading chunks

	storage storageCache // the result store's usage, read at most once a second

	webhookMu sync.Mutex
	webhookKV jetstream.KeyValue // the webhook registry, opened on first use (webhooks.go)
}

// Open creates or updates every stream, consumer, bucket and store, so that
// any process (gateway, exporter, all-in-one) can start first.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Bus, error) {
	cfg.defaults()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(64))
	if err != nil {
		return nil, err
	}
	storage := jetstream.FileStorage
	if cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	chunkJS, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(chunkAckWait))
	if err != nil {
		return nil, err
	}
	b := &Bus{nc: nc, js: js, chunkJS: chunkJS, Config: cfg}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: EventStream, Subjects: []string{"exports.events.>"}, Storage: storage, Replicas: cfg.Replicas,
		// The dedup window is the idempotency window: a queued event's
		// id is its request's fingerprint (Submit). The ids of the other
		// events only spare the fold a repeat it would ignore anyway.
		Retention: jetstream.LimitsPolicy, MaxAge: cfg.Retention, Duplicates: min(cfg.IdemWindow, cfg.Retention),
		Description: "every status change of every export job; queued events are the accepted requests",
	}); err != nil {
		return nil, fmt.Errorf("event stream: %w", err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: PartStream, Subjects: []string{"exports.parts.>"}, Storage: storage, Replicas: cfg.Replicas,
		Retention: jetstream.WorkQueuePolicy, MaxAge: cfg.Retention, Duplicates: min(DefaultDedupWindow, cfg.Retention),
		Description: "partitions of export jobs waiting for an exporter",
	}); err != nil {
		return nil, fmt.Errorf("part stream: %w", err)
	}
	if b.jobs, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: JobBucket, Description: "job documents, written only by the projector",
		History: 1, TTL: cfg.Retention, Storage: storage, Replicas: cfg.Replicas,
	}); err != nil {
		return nil, fmt.Errorf("job bucket: %w", err)
	}
	csvMax, err := resultMaxBytes(ctx, js, ResultBucket, cfg.ResultMaxBytes)
	if err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	if b.results, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: ResultBucket, Description: "exported parts, one object per partition",
		TTL: cfg.Retention, Storage: storage, Replicas: cfg.Replicas, Compression: false, MaxBytes: csvMax,
	}); err != nil {
		return nil, fmt.Errorf("result store: %w", err)
	}
	if cfg.Replicas > 1 {
		if b.results, err = leaderReads(ctx, js, ResultBucket); err != nil {
			return nil, fmt.Errorf("result store: %w", err)
		}
	}
	if err := b.ensureConsumers(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// leaderReads turns off direct gets on a replicated object store's stream
// and binds it again, so that part metadata is read through the stream
// leader. A direct get may be answered by any replica, possibly a lagging
// one: right after a node failover, a download of a part redone during it
// waited for chunks that were not there and broke off (the metadata and
// the update of a just-stored part also looked "deleted"); with leader
// reads this has not been seen again (internal/faults TestNATSNodeDown).
func leaderReads(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.ObjectStore, error) {
	s, err := js.Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		return nil, err
	}
	if c := s.CachedInfo().Config; c.AllowDirect {
		c.AllowDirect = false
		if _, err := js.UpdateStream(ctx, c); err != nil {
			return nil, err
		}
	}
	return js.ObjectStore(ctx, bucket)
}

// ensureConsumers creates the durable consumers. Planner and exporter
// consumers deliver without limit: a message past Config.MaxDeliver is
// delivered once more so that its handler fails the job with a reason. A
// server-side limit would silently stop delivering and leave the job
// "processing" forever when the exporters holding it keep dying.
//
// Every consumer's ack wait is Config.PartAckWait, and long handlers tell
// JetStream they are alive: a message held by a process that died goes to
// another one (or the restarted one) after that, not after a fixed minute
// during which a restarted service would plan and project nothing.
func (b *Bus) ensureConsumers(ctx context.Context) error {
	if _, err := b.js.CreateOrUpdateConsumer(ctx, EventStream, jetstream.ConsumerConfig{
		Durable: PlannerName, Description: "plans accepted requests into partitions",
		FilterSubject: "exports.events.*.queued", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: b.Config.PartAckWait, MaxDeliver: -1, MaxAckPending: 1024,
	}); err != nil {
		return fmt.Errorf("planner consumer: %w", err)
	}
	// Two lanes of parts, each a consumer that every exporter shares: a
	// work-queue stream lets consumers split its subjects, not overlap.
	// The bulk consumer is created (or narrowed) first, so that the
	// express one never overlaps a bulk consumer of an older version that
	// took every subject.
	for _, c := range []struct{ name, filter, what string }{
		{ExporterName, schema.PartSubjectPrefix + "*", "exports partitions (bulk lane)"},
		{ExpressName, schema.ExpressPartSubject("*"), "exports the first partitions of every job (express lane)"},
	} {
		if _, err := b.js.CreateOrUpdateConsumer(ctx, PartStream, jetstream.ConsumerConfig{
			Durable: c.name, Description: c.what, FilterSubject: c.filter,
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: b.Config.PartAckWait,
			MaxDeliver: -1, MaxAckPending: 1024,
		}); err != nil {
			return fmt.Errorf("%s consumer: %w", c.name, err)
		}
	}
	// One projector process at a time receives the events, in stream
	// order, and folds each ticket's events in that order (Consume shards
	// by ticket): a job document is a fold of its events in order. The pin
	// outlasts the ack wait, so after a crash the events the dead process
	// held are redelivered, first and in order, before the next process
	// receives anything newer.
	if _, err := b.js.CreateOrUpdateConsumer(ctx, EventStream, jetstream.ConsumerConfig{
		Durable: ProjectorName, Description: "folds events into job documents",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: b.Config.PartAckWait, MaxAckPending: 4 * ProjectorBuffer,
		PriorityPolicy: jetstream.PriorityPolicyPinned, PriorityGroups: []string{ProjectorGroup},
		PinnedTTL: b.Config.PartAckWait + pinMargin,
	}); err != nil {
		return fmt.Errorf("projector consumer: %w", err)
	}
	return nil
}

// Ready reports whether NATS answers and the topology is in place: every
// stream, including those behind the job bucket and the result store (a
// deleted result stream must not leave the service saying it is ready).
func (b *Bus) Ready(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return errors.New("events: not connected to NATS")
	}
	for _, s := range []string{EventStream, PartStream, "KV_" + JobBucket, "OBJ_" + ResultBucket} {
		if _, err := b.js.Stream(ctx, s); err != nil {
			return fmt.Errorf("stream %s: %w", s, err)
		}
	}
	return nil
}

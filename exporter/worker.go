package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/metrics"
	"github.com/plenario-next/exportd/schema"
)

// DefaultProgressInterval is how often a running part reports its rows and
// tells JetStream it is alive.
const DefaultProgressInterval = time.Second

// DefaultProgressRows is how many rows a fast part exports between progress
// reports when that comes before the interval. Rows are counted in steps of
// 65 536, so a report lands on the first step past it.
const DefaultProgressRows = 1 << 19

// Exporter exports partitions: Concurrency of them at once in this process,
// alongside any number of other processes on the same durable consumer.
type Exporter struct {
	bus    *events.Bus
	store  *chstore.Store
	logger *slog.Logger

	Name             string // shown in meta.workers
	Concurrency      int
	ProgressInterval time.Duration
	ProgressRows     int64             // also report after this many rows; 0: only by interval
	Metrics          *metrics.Registry // optional: rows, bytes, part durations, redeliveries

	hold func(ctx context.Context, t schema.PartTask, rows int64) // tests: called inside a part as its rows are counted
}

// NewExporter returns an Exporter with one worker per core.
func NewExporter(bus *events.Bus, store *chstore.Store, logger *slog.Logger) *Exporter {
	return &Exporter{bus: bus, store: store, logger: logger, Name: "exporter",
		Concurrency: runtime.NumCPU(), ProgressInterval: DefaultProgressInterval, ProgressRows: DefaultProgressRows}
}

// Run exports partitions until ctx is done; a part in flight at that moment
// is handed back (Nak) for another process to take at once.
func (x *Exporter) Run(ctx context.Context) error {
	return x.bus.ConsumeParts(ctx, x.Concurrency, x.logger, x.handle)
}

func (x *Exporter) handle(ctx context.Context, m *events.Delivery) {
	var t schema.PartTask
	if err := json.Unmarshal(m.Data(), &t); err != nil || !schema.IsTicket(t.Ticket) {
		x.logger.Error("exporter: dropping bad part", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	log := x.logger.With("ticket", t.Ticket, "part", t.Spec.Part)
	if m.Delivered() > 1 {
		x.Metrics.Redelivered()
	}
	if exhausted(ctx, x.bus, m, t.Ticket, fmt.Sprintf("part %d of %d", t.Spec.Part, t.Parts), log) {
		return
	}
	err := rideOut(ctx, m, x.bus.Config.OutageTolerance, x.bus.Config.PartAckWait, log, func() error {
		return x.export(ctx, m, t, log)
	})
	settle(ctx, x.bus, m, t.Ticket, err, log)
}

// errJobOver stops a part whose job finished meanwhile (cancelled, failed).
var errJobOver = errors.New("exporter: job is over")

func (x *Exporter) export(ctx context.Context, m *events.Delivery, t schema.PartTask, log *slog.Logger) error {
	if rec, _, err := x.bus.Job(ctx, t.Ticket); err == nil && rec.Terminal() {
		log.Info("skipping part of a finished job", "status", rec.Job.Status.Status)
		return nil
	}
	start := time.Now()
	if m.Delivered() > 1 {
		if sp, ok := x.storedWhole(ctx, t); ok {
			// Its exporter died after storing it, maybe after its part_done:
			// followers and partial manifests may have served it already.
			log.Info("part stored whole by an earlier delivery; kept, not stored again")
			return x.partDone(ctx, t, sp.Rows, sp, start, log)
		}
	}
	partCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var rows atomic.Int64
	kick := make(chan struct{}, 1) // ProgressRows more rows: report now
	var kicked int64
	onRow := func(n int64) {
		rows.Store(n)
		if x.hold != nil {
			x.hold(partCtx, t, n)
		}
		if x.ProgressRows > 0 && n-kicked >= x.ProgressRows {
			kicked = n
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}

	// While the part runs: keep the message alive, report progress, and
	// stop if the job is cancelled.
	stop := make(chan struct{})
	var hb sync.WaitGroup
	hb.Add(1)
	go func() {
		defer hb.Done()
		tick := time.NewTicker(x.ProgressInterval)
		defer tick.Stop()
		var reported int64
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			case <-kick:
			}
			_ = m.InProgress()
			if n := rows.Load(); n > reported {
				reported = n
				_, _ = x.bus.Publish(ctx, schema.Event{Kind: schema.EventProgress, Ticket: t.Ticket, Part: t.Spec.Part, Parts: t.Parts, Rows: n, Worker: x.Name})
			}
			if rec, _, err := x.bus.Job(ctx, t.Ticket); err == nil && rec.Terminal() {
				cancel(errJobOver)
				return
			}
		}
	}()
	n, stored, err := x.storePart(partCtx, t, onRow, log)
	close(stop)
	hb.Wait()
	if errors.Is(context.Cause(partCtx), errJobOver) {
		log.Info("job finished while its part ran; dropped the part")
		return x.removeUnlessSucceeded(ctx, t, log)
	}
	if err != nil {
		var se *schema.Error
		if !errors.As(err, &se) {
			err = schema.Wrap(schema.Unavailable, "storing the result failed", err)
		}
		return fmt.Errorf("part %d: %w", t.Spec.Part, err)
	}
	if rec, _, err := x.bus.Job(ctx, t.Ticket); err == nil && rec.Terminal() {
		return x.removeUnlessSucceeded(ctx, t, log)
	}
	return x.partDone(ctx, t, n, stored, start, log)
}

// removeUnlessSucceeded removes what part t stored when its job was
// cancelled, failed or expired while it ran: the job's cleanup may have
// run already, before the part's object was whole (a part stopped in its
// Close may have stored it all the same). A job that succeeded meanwhile
// had this part done already, by an attempt whose process died before its
// ack: the part is its result, kept.
func (x *Exporter) removeUnlessSucceeded(ctx context.Context, t schema.PartTask, log *slog.Logger) error {
	rec, _, err := x.bus.Job(ctx, t.Ticket)
	if err != nil {
		return err
	}
	if st := rec.Job.Status.Status; rec.Terminal() && st != schema.StatusSuccess {
		log.Info("job finished while its part ran; removing the part", "status", st)
		return x.bus.DeletePart(ctx, t.Ticket, t.Spec.Part)
	}
	return nil
}

// partDone tells that part t is stored, as stored.
func (x *Exporter) partDone(ctx context.Context, t schema.PartTask, n int64, stored events.StoredPart, start time.Time, log *slog.Logger) error {
	if _, err := x.bus.Publish(ctx, schema.Event{Kind: schema.EventPartDone, Ticket: t.Ticket, Part: t.Spec.Part, Parts: t.Parts,
		Rows: n, Bytes: stored.Bytes, Worker: x.Name}); err != nil {
		return err
	}
	x.Metrics.PartDone(n, stored.Bytes, time.Since(start))
	log.Info("part stored", "rows", n, "bytes", stored.Bytes, "stored_bytes", stored.Stored, "json_bytes", stored.JSON,
		"took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// storedWhole returns part t as stored by an earlier delivery, if one
// stored it whole (its metadata written last: rows, size, digest), so that
// a redelivered part is not read again for nothing. A part is stored once:
// a part stored whole is never replaced (events.PartWriter commits first
// writer wins), because its part_done announced it, and followers, partial
// manifests and the job's rows took it as the part, while the slice read
// again may differ (rows loaded since into its window, ties ordered
// otherwise). Any error but a whole part: store it.
func (x *Exporter) storedWhole(ctx context.Context, t schema.PartTask) (events.StoredPart, bool) {
	sp, err := x.bus.Part(ctx, t.Ticket, t.Spec.Part)
	return sp, err == nil
}

// storePart reads a part's slice from ClickHouse and stores it. It reads
// the rows in the order the table stores them first (no sort in
// ClickHouse, see chstore.OpenStoredSlice); if that is not the export
// order, it throws away what it stored and reads the slice again sorted.
// A name the store had no code for is read again the same way, spelt out;
// a second time, sorted.
func (x *Exporter) storePart(ctx context.Context, t schema.PartTask, onRow func(int64), log *slog.Logger) (int64, events.StoredPart, error) {
	open := x.store.OpenStoredSlice
	for unknown := 0; ; {
		it, err := open(ctx, &t.Query, t.Spec.From, t.Spec.To, t.Spec.Skip, t.Spec.Take)
		if err != nil {
			return 0, events.StoredPart{}, err
		}
		// A job asked for as Parquet stores its Parquet beside the CSV.
		withParquet := t.Query.DataType == schema.FormatParquet
		pw := x.bus.NewPartWriter(ctx, t.Ticket, t.Spec.Part)
		if withParquet {
			pw.WithParquet()
		}
		n, err := encodePart(it, pw, withParquet, t.MetaIDs, onRow)
		it.Close()
		if err != nil {
			pw.Abort(err)
			if errors.Is(err, chstore.ErrOutOfOrder) {
				log.Info("slice not stored in export order; reading it again sorted", "after_rows", n)
				open = x.store.OpenSlice // never ends with ErrOutOfOrder
				continue
			}
			if errors.Is(err, chstore.ErrUnknownName) {
				log.Info("slice has a name new to this exporter; reading it again with its names spelt out", "after_rows", n)
				if unknown++; unknown > 1 {
					open = x.store.OpenSlice // never coded
				}
				continue
			}
			return n, events.StoredPart{}, err
		}
		// This process may have stalled past the ack wait (stopped, swapped
		// out) while another took the part again and stored it, before
		// Close or inside it: the part that was stored first stands, and
		// Close returns it (its commit is conditional, events.ErrPartStored).
		stored, err := pw.Close(n)
		if errors.Is(err, events.ErrPartStored) {
			log.Info("part stored whole meanwhile by another delivery; kept, this read dropped", "rows", n)
			return stored.Rows, stored, nil
		}
		return n, stored, err
	}
}

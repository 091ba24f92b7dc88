package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/internal/metrics"
	"github.com/plenario-next/exportd/schema"
)

// Projector folds the event stream into the job documents of the KV bucket.
// It is the only writer of that bucket. When a fold shows every part of a
// job stored, it publishes the job's succeeded event, which it then folds
// like any other: the documents stay a pure function of the events.
type Projector struct {
	bus    *Bus
	logger *slog.Logger

	Metrics *metrics.Registry // optional: events folded, by kind

	kept records // the records of running jobs as last written (records.go)
}

// NewProjector returns a Projector on bus.
func NewProjector(bus *Bus, logger *slog.Logger) *Projector {
	return &Projector{bus: bus, logger: logger}
}

// Run consumes events until ctx is done.
func (p *Projector) Run(ctx context.Context) error {
	return p.bus.Consume(ctx, EventStream, ProjectorName,
		ConsumeOptions{Workers: ProjectorWorkers, Buffer: ProjectorBuffer, Group: ProjectorGroup}, p.logger, p.handle)
}

func (p *Projector) handle(ctx context.Context, d *Delivery) {
	m := d.m
	e, err := decodeEvent(m)
	if err != nil {
		p.logger.Error("projector: dropping undecodable event", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	// A failure is retried here rather than redelivered later: the
	// ticket's next events wait behind this one, so they fold in order.
	for attempt := 0; ; attempt++ {
		err := p.project(ctx, m, e)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			_ = m.Nak() // shutting down: redelivered first, in order, to the next projector
			return
		}
		delay := min(100*time.Millisecond<<min(attempt, 5), 2*time.Second)
		p.logger.Warn("projector: will retry", "ticket", e.Ticket, "kind", e.Kind, "err", err, "delay", delay)
		_ = m.InProgress()
		select {
		case <-ctx.Done():
			_ = m.Nak()
			return
		case <-time.After(delay):
		}
	}
	p.Metrics.Event(string(e.Kind))
	if err := m.Ack(); err != nil {
		p.logger.Warn("projector ack", "ticket", e.Ticket, "kind", e.Kind, "err", err)
	}
}

// project folds e and does what the fold calls for: removing a cancelled or
// expired job's result, publishing the success of a complete one. Done
// again after a failure, it does only what is left.
func (p *Projector) project(ctx context.Context, m jetstream.Msg, e schema.Event) error {
	rec, err := fold(ctx, p.bus.jobs, &p.kept, e)
	if err != nil {
		return fmt.Errorf("fold: %w", err)
	}
	if rec != nil && e.Kind.Removes() && rec.Job.Status.Status == statusOf(e.Kind) {
		// Cancelling, failing or expiring removes the result: a failed
		// job's parts are never served, and they would hold room that the
		// result storage's limit gives to other jobs. Exporters still
		// writing a part remove it themselves when they see the status.
		_ = m.InProgress()
		if err := p.bus.DeleteParts(ctx, e.Ticket, len(rec.Plan)); err != nil {
			return fmt.Errorf("removing parts: %w", err)
		}
	}
	if rec != nil && rec.Complete() {
		url := rec.URLRoot + "v1/api/datadump/" + e.Ticket
		if dt := rec.Job.Request.Query.DataType; dt != "" { // the format asked for, by name
			url += "?data_type=" + dt
		}
		if _, err := p.bus.Publish(ctx, schema.Event{Kind: schema.EventSucceeded, Ticket: e.Ticket, URL: url,
			Rows: rec.DoneRows, Bytes: rec.DoneBytes, Parts: rec.Job.Status.Progress.Total}); err != nil {
			return fmt.Errorf("publish succeeded: %w", err)
		}
	}
	if rec != nil {
		p.forward(rec.Client, e)
	}
	return nil
}

func statusOf(k schema.EventKind) string {
	switch k {
	case schema.EventExpired:
		return schema.StatusExpired
	case schema.EventFailed:
		return schema.StatusError
	}
	return schema.StatusCancelled
}

// Fold applies e to its job's record in kv with compare-and-set, retrying on
// a concurrent write, and returns the record as it now stands (nil if the
// event is about a job kv does not know and does not create one).
func Fold(ctx context.Context, kv jetstream.KeyValue, e schema.Event) (*schema.JobRecord, error) {
	return fold(ctx, kv, nil, e)
}

// fold is Fold starting from the record kept in kept, when there is one.
func fold(ctx context.Context, kv jetstream.KeyValue, kept *records, e schema.Event) (*schema.JobRecord, error) {
	if !schema.IsTicket(e.Ticket) {
		return nil, nil
	}
	for attempt := 0; ; attempt++ {
		// A queued event begins its job's record: the create is the look
		// (it fails on a record that exists), so the bucket is read only
		// for a repeat.
		rec, rev, unread := &schema.JobRecord{}, uint64(0), true
		if attempt > 0 || kept == nil || e.Kind != schema.EventQueued {
			var err error
			if rec, rev, unread, err = current(ctx, kv, kept, e.Ticket); err != nil {
				return nil, err
			}
		}
		if !rec.Apply(e) {
			if unread {
				// Nothing to write, so no compare-and-set tells whether
				// the record is still the bucket's: the event may belong
				// to a state written meanwhile. Ask the bucket.
				continue
			}
			if rec.Job.Ticket == "" {
				return nil, nil
			}
			kept.keep(e.Ticket, rec, rev)
			return rec, nil
		}
		data, err := schema.MarshalRecord(rec)
		if err != nil {
			return nil, err
		}
		if rev == 0 {
			rev, err = kv.Create(ctx, e.Ticket, data)
		} else {
			rev, err = kv.Update(ctx, e.Ticket, data, rev)
		}
		if err == nil {
			kept.keep(e.Ticket, rec, rev)
			return rec, nil
		}
		if unread {
			continue // written meanwhile, or gone: read the bucket
		}
		if !errors.Is(err, jetstream.ErrKeyExists) || attempt > 100 {
			return nil, err
		}
	}
}

// current returns ticket's record and revision: the one kept, if any
// (unread: the bucket was not asked), else as kv has it (a zero record and
// revision 0 when none).
func current(ctx context.Context, kv jetstream.KeyValue, kept *records, ticket string) (rec *schema.JobRecord, rev uint64, unread bool, err error) {
	if c, ok := kept.take(ticket); ok {
		return c.rec, c.rev, true, nil
	}
	rec = &schema.JobRecord{}
	entry, err := kv.Get(ctx, ticket)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return rec, 0, false, nil
	case err != nil:
		return nil, 0, false, err
	}
	if err := json.Unmarshal(entry.Value(), rec); err != nil {
		return nil, 0, false, fmt.Errorf("bad record %s: %w", ticket, err)
	}
	return rec, entry.Revision(), false, nil
}

// Rebuild folds every event of the stream, in order, into kv, publishing
// nothing: the documents it leaves must equal the projector's.
//
// It reads with one ordered consumer in consume mode: Next on an ordered
// consumer makes a new server consumer for every message and deletes the
// old one in the background, so a rebuild cost a consumer per event and
// returned with the last deletions still under way. When it returns, every
// consumer it made is deleted.
func Rebuild(ctx context.Context, bus *Bus, kv jetstream.KeyValue) error {
	s, err := bus.js.Stream(ctx, EventStream)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	if info.State.Msgs == 0 {
		return nil
	}
	last := info.State.LastSeq
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer deleteOrdered(ctx, s, cons)
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		e, err := decodeEvent(m)
		if err == nil {
			if _, err := Fold(ctx, kv, e); err != nil {
				return err
			}
		}
		if md, _ := m.Metadata(); md != nil && md.Sequence.Stream >= last {
			return nil
		}
	}
}

// deleteOrdered deletes, and waits for, every server consumer an ordered
// consumer made: the current one and any a reset left (their names share
// a prefix, then "_" and a serial), rather than leave them to their
// inactive threshold or to the library's background deletion.
func deleteOrdered(ctx context.Context, s jetstream.Stream, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	prefix := info.Name[:strings.LastIndexByte(info.Name, '_')+1]
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	names := s.ConsumerNames(dctx)
	var mine []string
	for n := range names.Name() {
		if strings.HasPrefix(n, prefix) {
			mine = append(mine, n)
		}
	}
	if names.Err() != nil {
		mine = append(mine, info.Name)
	}
	for _, n := range mine {
		_ = s.DeleteConsumer(dctx, n)
	}
}

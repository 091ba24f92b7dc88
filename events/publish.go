package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// MsgID is the deduplication id of an event that must happen once per job
// (or per part): JetStream drops a second publish with the same id within
// the dedup window, and the fold ignores one after it.
func MsgID(e schema.Event) string {
	switch e.Kind {
	case schema.EventPartDone:
		return fmt.Sprintf("%s.%s.%d", e.Ticket, e.Kind, e.Part)
	case schema.EventProgress:
		return "" // many per part; the fold keeps the highest
	default:
		return e.Ticket + "." + string(e.Kind)
	}
}

// Publish appends e to the event stream and returns its sequence number.
func (b *Bus) Publish(ctx context.Context, e schema.Event) (uint64, error) {
	ack, err := b.publish(ctx, e, MsgID(e))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

func (b *Bus) publish(ctx context.Context, e schema.Event, id string) (*jetstream.PubAck, error) {
	e.Version = schema.EventVersion
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e.Seq = 0
	data, ok := e.AppendQueuedJSON(make([]byte, 0, 1024)) // every submit's; the same bytes
	if !ok {
		var err error
		if data, err = json.Marshal(e); err != nil {
			return nil, err
		}
	}
	m := nats.NewMsg(schema.EventSubject(e.Ticket, e.Kind))
	m.Data = data
	var opts []jetstream.PublishOpt
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	ack, err := b.js.PublishMsg(ctx, m, opts...)
	if err != nil {
		return nil, unavailable("publish event", err)
	}
	return ack, nil
}

// Submit accepts a request: its queued event is both the first page of the
// job's history and the planners' work item, so one publish either accepts
// the job entirely or not at all. id identifies the submission (a
// fingerprint of the request, or the client's Idempotency-Key): when a
// queued event with the same id was accepted within Config.IdemWindow,
// JetStream stores nothing and Submit returns that earlier event's stream
// sequence instead of 0. The check and the acceptance are one round trip,
// and two identical requests racing get one job.
func (b *Bus) Submit(ctx context.Context, req schema.ExportRequest, id string) (earlier uint64, err error) {
	ack, err := b.publish(ctx, schema.Event{Kind: schema.EventQueued, Ticket: req.Ticket, Time: req.SubmittedAt, Request: &req}, id)
	if err != nil {
		return 0, err
	}
	if ack.Duplicate {
		if ack.Sequence == 0 { // a clustered stream still committing the first
			return 0, schema.Errorf(schema.Conflict, "The same request is being submitted concurrently; retry.")
		}
		return ack.Sequence, nil
	}
	return 0, nil
}

// Earlier returns the stream sequence of the queued event accepted under id
// within Config.IdemWindow, or 0 when there is none, and stores nothing:
// JetStream answers a publish under a known id with the earlier sequence
// before it checks expectations, and refuses one expecting a last message
// id no stream has.
func (b *Bus) Earlier(ctx context.Context, id string) (uint64, error) {
	m := nats.NewMsg(probeSubject)
	ack, err := b.js.PublishMsg(ctx, m, jetstream.WithMsgID(id), jetstream.WithExpectLastMsgID(probeLastMsgID))
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode == wrongLastMsgID:
		return 0, nil
	case err != nil:
		return 0, unavailable("look up a submission", err)
	case ack.Duplicate:
		return ack.Sequence, nil
	}
	return 0, fmt.Errorf("events: a probe for %q was stored as message %d", id, ack.Sequence)
}

// The probe of Earlier: a subject of the event stream that no consumer
// reads, an expected last message id that no event has, and the error
// JetStream refuses it with.
const (
	probeSubject   = "exports.events.probe.submission"
	probeLastMsgID = "exportd: no such message"
	wrongLastMsgID = jetstream.ErrorCode(10070) // JSStreamWrongLastMsgIDErrF
)

// decodeEvent reads an event message, with Seq set from its metadata.
func decodeEvent(m jetstream.Msg) (schema.Event, error) {
	var e schema.Event
	if !e.UnmarshalQueuedJSON(m.Data()) { // the one event every ticket has, read by hand
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			return e, fmt.Errorf("events: bad event on %s: %w", m.Subject(), err)
		}
	}
	if md, err := m.Metadata(); err == nil {
		e.Seq = md.Sequence.Stream
	}
	return e, nil
}

// Job returns the projected record of ticket and its KV revision; a
// NotFound error when there is none.
func (b *Bus) Job(ctx context.Context, ticket string) (*schema.JobRecord, uint64, error) {
	raw, rev, err := b.JobRaw(ctx, ticket)
	if err != nil {
		return nil, 0, err
	}
	r, err := DecodeJob(ticket, raw)
	return r, rev, err
}

// JobRaw returns a job's record as stored, and its revision.
func (b *Bus) JobRaw(ctx context.Context, ticket string) ([]byte, uint64, error) {
	if !schema.IsTicket(ticket) {
		return nil, 0, schema.Errorf(schema.NotFound, "Job not found.")
	}
	e, err := b.jobs.Get(ctx, ticket)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, schema.Errorf(schema.NotFound, "Job not found.")
	}
	if err != nil {
		return nil, 0, unavailable("read job", err)
	}
	return e.Value(), e.Revision(), nil
}

// DecodeJob decodes a stored job record.
func DecodeJob(ticket string, raw []byte) (*schema.JobRecord, error) {
	var r schema.JobRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("events: bad job record %s: %w", ticket, err)
	}
	return &r, nil
}

// QueuedEvent returns ticket's queued event straight from the stream: the
// gateway's answer in the moment between acceptance and projection.
func (b *Bus) QueuedEvent(ctx context.Context, ticket string) (schema.Event, error) {
	var e schema.Event
	if !schema.IsTicket(ticket) {
		return e, schema.Errorf(schema.NotFound, "Job not found.")
	}
	s, err := b.js.Stream(ctx, EventStream)
	if err != nil {
		return e, unavailable("event stream", err)
	}
	m, err := s.GetLastMsgForSubject(ctx, schema.EventSubject(ticket, schema.EventQueued))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return e, schema.Errorf(schema.NotFound, "Job not found.")
	}
	if err != nil {
		return e, unavailable("read queued event", err)
	}
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return e, err
	}
	e.Seq = m.Sequence
	return e, nil
}

func unavailable(what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return schema.Wrap(schema.Unavailable, "NATS is unavailable", fmt.Errorf("%s: %w", what, err))
}

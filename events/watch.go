package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// watchInactive is how long the server keeps a watch's consumer after its
// client vanished without stopping it (a crashed gateway): stop deletes it
// at once, this is only the backstop.
const watchInactive = 30 * time.Second

// Watch streams ticket's events in stream order, starting with the first
// one after afterSeq (0: from the job's first event), each with Seq set.
// Sequences are the event stream's, so they are increasing but not
// contiguous: other jobs' events lie between them.
//
// It reads through an ordered consumer of its own, which recovers from a
// lost message or a reconnect by itself without gaps or repeats. The channel
// stays open past a terminal event (an expired event may follow a
// succeeded one); it closes after stop is called, when ctx is done, or if
// the consumer cannot be recreated. stop may be called more than once and
// deletes the consumer on the server before it returns.
func (b *Bus) Watch(ctx context.Context, ticket string, afterSeq uint64) (<-chan schema.Event, func(), error) {
	if !schema.IsTicket(ticket) {
		return nil, nil, schema.Errorf(schema.NotFound, "Job not found.")
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{schema.TicketEvents(ticket)},
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: watchInactive,
	}
	if afterSeq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = afterSeq + 1
	}
	cons, err := b.js.OrderedConsumer(ctx, EventStream, cfg)
	if err != nil {
		return nil, nil, unavailable("watch", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return nil, nil, unavailable("watch", err)
	}
	out := make(chan schema.Event, 16)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		for {
			m, err := it.Next()
			if err != nil {
				// Closed by stop or ctx, or the consumer could not be
				// recreated: either way the watch is over.
				return
			}
			e, err := decodeEvent(m)
			if err != nil || e.Ticket != ticket {
				continue
			}
			select {
			case out <- e:
			case <-quit:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	stopFn := func() {
		once.Do(func() {
			close(quit)
			it.Stop()
			<-done
			// The ordered consumer's server side would otherwise linger until
			// its inactive threshold: one per watcher that ever left.
			if info := cons.CachedInfo(); info != nil {
				dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = b.js.DeleteConsumer(dctx, EventStream, info.Name)
				cancel()
			}
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			it.Stop()
		case <-quit:
		}
	}()
	return out, stopFn, nil
}

// Event returns the event at stream sequence seq; a NotFound error when the
// stream no longer (or never) had it.
func (b *Bus) Event(ctx context.Context, seq uint64) (schema.Event, error) {
	var e schema.Event
	s, err := b.js.Stream(ctx, EventStream)
	if err != nil {
		return e, unavailable("event stream", err)
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return e, schema.Errorf(schema.NotFound, "Event not found.")
	}
	if err != nil {
		return e, unavailable("read event", err)
	}
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return e, fmt.Errorf("events: bad event %d: %w", seq, err)
	}
	e.Seq = m.Sequence
	return e, nil
}

// LastEventSeq returns the sequence of the newest event in the stream: an
// id past it was never sent.
func (b *Bus) LastEventSeq(ctx context.Context) (uint64, error) {
	s, err := b.js.Stream(ctx, EventStream)
	if err != nil {
		return 0, unavailable("event stream", err)
	}
	return s.CachedInfo().State.LastSeq, nil
}

// LastEvent returns ticket's newest event of kind, and false when the
// stream holds none: how a planner given a request again finds the plan
// it started before (a started event), so that it queues the same parts.
func (b *Bus) LastEvent(ctx context.Context, ticket string, kind schema.EventKind) (schema.Event, bool, error) {
	var e schema.Event
	s, err := b.js.Stream(ctx, EventStream)
	if err != nil {
		return e, false, unavailable("event stream", err)
	}
	m, err := s.GetLastMsgForSubject(ctx, schema.EventSubject(ticket, kind))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return e, false, nil
	}
	if err != nil {
		return e, false, unavailable("read event", err)
	}
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return e, false, fmt.Errorf("events: bad event %d: %w", m.Sequence, err)
	}
	e.Seq = m.Sequence
	return e, true, nil
}

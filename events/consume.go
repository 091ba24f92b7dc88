package events

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// ConsumeOptions shape Consume.
type ConsumeOptions struct {
	// Workers handle messages at once (1 if 0). The messages of one
	// ticket always go to the same worker, in the order they arrived, so
	// a job's events are handled in stream order while other jobs'
	// proceed beside them.
	Workers int
	// Unordered hands each message to the first free worker instead, for
	// a consumer that sees one message a ticket (the planner's queued
	// events): a message then never waits behind a slow one on a worker
	// while another worker is free.
	Unordered bool
	// Buffer is how many messages may wait in this process beyond those
	// being handled (Workers if 0). A waiting message's ack wait runs, and
	// after a crash each one waits out the ack wait before another
	// process gets it: keep it small where handling is slow.
	Buffer int
	// Group, for a pinned consumer (projectorGroup), is its priority
	// group: one process at a time receives its messages.
	Group string
}

var shardSeed = maphash.MakeSeed()

// drainWait bounds how long a stopping Consume waits for the messages on
// their way to it.
const drainWait = 3 * time.Second

// shardOf is the worker of a message: by ticket, for event and part
// subjects alike.
func shardOf(subject string, workers int) int {
	if workers == 1 {
		return 0
	}
	key := subject
	if t, _, ok := schema.SplitEventSubject(subject); ok {
		key = t
	}
	return int(maphash.String(shardSeed, key) % uint64(workers))
}

// Consume hands the messages of a durable consumer to handle until ctx is
// done. handle settles each delivery itself (ack, nak or term). When ctx
// ends, the messages already received are still handed over (with the
// ended ctx, so handlers nak what they cannot finish), and a pinned
// consumer is unpinned once all are settled: another process takes over
// at once, after the messages this one held, in order.
func (b *Bus) Consume(ctx context.Context, stream, consumer string, o ConsumeOptions, logger *slog.Logger, handle func(context.Context, *Delivery)) error {
	workers := max(o.Workers, 1)
	buffer := o.Buffer
	if buffer <= 0 {
		buffer = workers
	}
	cons, err := b.js.Consumer(ctx, stream, consumer)
	if err != nil {
		return fmt.Errorf("%s consumer: %w", consumer, err)
	}
	opts := []jetstream.PullMessagesOpt{jetstream.PullMaxMessages(buffer)}
	if o.Group != "" {
		opts = append(opts, jetstream.PullPriorityGroup(o.Group))
	}
	it, err := cons.Messages(opts...)
	if err != nil {
		return err
	}
	stopped := make(chan struct{})
	defer close(stopped)
	var forced atomic.Bool
	go func() {
		select {
		case <-ctx.Done():
			it.Drain() // what has arrived is still returned by Next
			select {
			case <-stopped:
			case <-time.After(drainWait):
				// A drain that does not end must not hold the process: the
				// messages still held come back after the ack wait.
				forced.Store(true)
				it.Stop()
			}
		case <-stopped:
		}
	}()

	// At most buffer messages are handed out and not yet settled (and as
	// many more wait in the iterator); a worker's queue holds them all, so
	// receiving waits on the bound, never on one slow ticket's worker.
	slots := make(chan struct{}, buffer)
	nq := workers
	if o.Unordered {
		nq = 1 // all workers take from one queue
	}
	queues := make([]chan *Delivery, nq)
	for i := range queues {
		queues[i] = make(chan *Delivery, buffer)
	}
	var wg sync.WaitGroup
	for w := range workers {
		q := queues[w%nq]
		wg.Go(func() {
			for d := range q {
				handle(ctx, d)
				<-slots
			}
		})
	}
	defer func() {
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
		it.Stop()
		if o.Group != "" && !forced.Load() {
			// Settled: the next process may start from here. (After a
			// forced stop the pin lapses instead, so that what this
			// process held is redelivered before anything newer.)
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			s, err := b.js.Stream(uctx, stream)
			if err == nil {
				err = s.UnpinConsumer(uctx, consumer, o.Group)
			}
			if err != nil {
				logger.Debug(consumer+" unpin", "err", err)
			}
		}
	}()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			logger.Warn(consumer+" fetch", "err", err)
			continue
		}
		slots <- struct{}{}
		queues[shardOf(m.Subject(), nq)] <- &Delivery{m: m}
	}
}

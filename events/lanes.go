package events

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ConsumeParts hands the queued parts of both lanes to handle, workers of
// them at once, until ctx is done; a part in flight at that moment is the
// handler's to hand back (Nak). Each worker takes its next part itself,
// from the express lane every other time first (lanes), so a worker busy
// with a long part holds at most one more (kept in progress): parts wait
// in the stream, where any exporter can take them, not in a buffer of
// this process.
func (b *Bus) ConsumeParts(ctx context.Context, workers int, logger *slog.Logger, handle func(context.Context, *Delivery)) error {
	bulk, err := b.js.Consumer(ctx, PartStream, ExporterName)
	if err != nil {
		return fmt.Errorf("exporter consumer: %w", err)
	}
	express, err := b.js.Consumer(ctx, PartStream, ExpressName)
	if err != nil {
		return fmt.Errorf("express consumer: %w", err)
	}
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Go(func() {
			l := newLanes(express, bulk, b.Config.PartAckWait)
			for ctx.Err() == nil {
				m, err := l.next(ctx)
				if err != nil {
					if ctx.Err() == nil {
						logger.Warn("exporter fetch", "err", err)
						select {
						case <-ctx.Done():
						case <-time.After(time.Second):
						}
					}
					continue
				}
				if m != nil {
					handle(ctx, &Delivery{m: m})
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// laneWait is how long an idle worker's pull request waits on a lane.
const laneWait = 2 * time.Second

// lanes takes one worker's next part from the two lanes of parts, the
// express lane (every job's first parts) and the bulk lane (the rest).
// Every other time it looks at the express lane first, so that a small
// job's parts overtake the queued parts of big jobs, and the bulk lane is
// never starved by a stream of small jobs: with both lanes full, each
// gets half of the exporters' turns.
//
// An idle worker waits on both lanes at once, with one pull request each.
// When one delivers, the other's request may still deliver a message
// while the worker exports the first: that message is held for the
// worker's next turn and kept alive (InProgress) meanwhile, so that
// JetStream does not hand it to another exporter and count a second
// delivery. Both are JetStream's own durable consumers; nothing is
// distributed by hand, and any number of exporters share them.
type lanes struct {
	cons [2]jetstream.Consumer // express, bulk
	wait [2]chan jetstream.Msg // a lane's outstanding pull request, or nil
	turn int
	// keepAlive is how often a held message is said to be in progress.
	keepAlive time.Duration
}

func newLanes(express, bulk jetstream.Consumer, ackWait time.Duration) *lanes {
	return &lanes{cons: [2]jetstream.Consumer{express, bulk}, keepAlive: max(ackWait/3, 100*time.Millisecond)}
}

// next returns the worker's next message; nil with ctx done.
func (l *lanes) next(ctx context.Context) (jetstream.Msg, error) {
	l.turn++
	order := [2]int{0, 1}
	if l.turn%2 == 0 {
		order = [2]int{1, 0}
	}
	for ctx.Err() == nil {
		for _, i := range order {
			if m, err := l.poll(i); m != nil || err != nil {
				return m, err
			}
		}
		// Both lanes are empty: wait on both.
		for i := range l.cons {
			if l.wait[i] == nil {
				ch, err := l.request(ctx, i)
				if err != nil {
					return nil, err
				}
				l.wait[i] = ch
			}
		}
		select {
		case <-ctx.Done():
		case m, ok := <-l.wait[order[0]]:
			if m, done := l.took(order[0], m, ok); done {
				return m, nil
			}
		case m, ok := <-l.wait[order[1]]:
			if m, done := l.took(order[1], m, ok); done {
				return m, nil
			}
		}
	}
	return nil, nil
}

// took records what lane i's outstanding request gave: a message (done),
// or its end without one.
func (l *lanes) took(i int, m jetstream.Msg, ok bool) (jetstream.Msg, bool) {
	l.wait[i] = nil
	return m, ok && m != nil
}

// poll returns a message of lane i that is there now: one its outstanding
// request got, or else one a no-wait fetch gets.
func (l *lanes) poll(i int) (jetstream.Msg, error) {
	if l.wait[i] != nil {
		select {
		case m, ok := <-l.wait[i]:
			if m, done := l.took(i, m, ok); done {
				return m, nil
			}
		default:
			return nil, nil // still waiting: no second request on the lane
		}
	}
	batch, err := l.cons[i].FetchNoWait(1)
	if err != nil {
		return nil, err
	}
	for m := range batch.Messages() {
		return m, nil // a batch of one: it ends after this
	}
	return nil, nil
}

// request sends a pull request for one message of lane i and returns the
// channel that gets it, or is closed when the request expires without
// one. A message that arrives while the worker is busy is kept in
// progress until the worker takes it, and handed back (Nak) if the
// worker stops.
func (l *lanes) request(ctx context.Context, i int) (chan jetstream.Msg, error) {
	batch, err := l.cons[i].Fetch(1, jetstream.FetchMaxWait(laneWait))
	if err != nil {
		return nil, err
	}
	ch := make(chan jetstream.Msg)
	go func() {
		defer close(ch)
		m, ok := <-batch.Messages()
		if !ok {
			return
		}
		tick := time.NewTicker(l.keepAlive)
		defer tick.Stop()
		for {
			select {
			case ch <- m:
				return
			case <-tick.C:
				_ = m.InProgress()
			case <-ctx.Done():
				_ = m.Nak()
				return
			}
		}
	}()
	return ch, nil
}

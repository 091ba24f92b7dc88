package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
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
	for _, name := range []string{ExporterName, ExpressName} {
		if _, err := b.js.Consumer(ctx, PartStream, name); err != nil {
			return fmt.Errorf("%s consumer: %w", name, err)
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // before wg.Wait: stops the workers started before a failure
	rc := watchReconnects(ctx, b.nc)
	for range max(1, workers) {
		l, err := newLanes(ctx, b.nc, rc, b.Config.PartAckWait)
		if err != nil {
			return err
		}
		wg.Go(func() {
			var leaderless time.Duration // the next pause while a lane has no leader; 0: it has one
			var warned time.Time         // the last warning of no leader: one in noLeaderWarn
			for ctx.Err() == nil {
				m, err := l.next(ctx)
				if err != nil {
					if ctx.Err() == nil {
						pause := time.Second
						if errors.Is(err, errNoLeader) {
							if time.Since(warned) >= noLeaderWarn {
								logger.Warn("exporter fetch: waiting for a consumer leader", "err", err)
								warned = time.Now()
							}
							leaderless = min(max(2*leaderless, noLeaderPause), noLeaderPauseMax)
							pause = leaderless
						} else {
							logger.Warn("exporter fetch", "err", err)
						}
						select {
						case <-ctx.Done():
						case <-time.After(pause):
						}
					}
					continue
				}
				leaderless = 0
				if m != nil {
					handle(ctx, &Delivery{m: m})
				}
			}
		})
	}
	<-ctx.Done()
	return nil
}

// A worker whose lane has no consumer leader asks again after
// noLeaderPause, twice as long each time up to noLeaderPauseMax: an
// election takes seconds, so a cap of a second would have the worker
// learn of the new leader up to a second late (TestPartConsumerLeaderDown:
// 6 to 866 ms, median 668, against at most 180 ms with these pauses),
// while a no-responders answer costs the server little: at most five a
// second for each of a worker's lanes. It is said once in noLeaderWarn
// (a deleted consumer answers so for good). Every other error pauses a
// second and is said each time.
const (
	noLeaderPause    = 25 * time.Millisecond
	noLeaderPauseMax = 200 * time.Millisecond
	noLeaderWarn     = 10 * time.Second
)

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
	lane [2]*puller // express, bulk
	turn int
}

// newLanes subscribes a worker's two pullers until ctx is done; a held
// message is said to be in progress every third of the ack wait.
func newLanes(ctx context.Context, nc *nats.Conn, rc *reconnects, ackWait time.Duration) (*lanes, error) {
	keepAlive := max(ackWait/3, 100*time.Millisecond)
	var l lanes
	for i, name := range [2]string{ExpressName, ExporterName} {
		p, err := newPuller(ctx, nc, rc, PartStream, name, keepAlive)
		if err != nil {
			return nil, err
		}
		l.lane[i] = p
	}
	return &l, nil
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
			if m, err := l.poll(ctx, i); m != nil || err != nil {
				return m, err
			}
		}
		// Both lanes are empty: wait on both.
		lost := time.Now().Add(laneWait + replyLost)
		for _, p := range l.lane {
			if !p.waiting() {
				if err := p.ask(laneWait); err != nil {
					return nil, err
				}
			}
			if p.lost.Before(lost) {
				lost = p.lost
			}
		}
		first, second := l.lane[order[0]], l.lane[order[1]]
		select {
		case <-ctx.Done():
		case r := <-first.replies:
			if m, err := first.took(r); m != nil || err != nil {
				return m, err
			}
		case r := <-second.replies:
			if m, err := second.took(r); m != nil || err != nil {
				return m, err
			}
		case <-time.After(time.Until(lost)): // a request given up for lost
		case <-first.gone: // the requests forgotten: connected again
		case <-second.gone:
		}
	}
	return nil, nil
}

// poll returns a message of lane i that is there now: one its requests
// got, or else one a no-wait request gets.
func (l *lanes) poll(ctx context.Context, i int) (jetstream.Msg, error) {
	p := l.lane[i]
	for drained := false; !drained; {
		select {
		case r := <-p.replies:
			if m, err := p.took(r); m != nil || err != nil {
				return m, err
			}
		default:
			drained = true
		}
	}
	if p.waiting() {
		return nil, nil // no second request on the lane
	}
	if err := p.ask(0); err != nil {
		return nil, err
	}
	select {
	case r := <-p.replies:
		return p.took(r)
	case <-ctx.Done():
	case <-time.After(time.Until(p.lost)):
	case <-p.gone:
	}
	return nil, nil
}

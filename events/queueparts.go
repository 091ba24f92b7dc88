package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// Lane is the queue a part waits in.
type Lane int

// The lanes: exporters take from the express lane every other time they
// are free, so that a job's first parts (all of a small job) do not wait
// behind the bulk lane's parts of big jobs.
const (
	Bulk Lane = iota
	Express
)

// QueuePart publishes a partition work item in lane. Its Msg-Id makes a
// planner that runs twice (after a crash) queue each part once, whatever
// the lane.
func (b *Bus) QueuePart(ctx context.Context, t schema.PartTask, lane Lane) error {
	m, err := partMsg(t, lane)
	if err != nil {
		return err
	}
	if _, err = b.js.PublishMsg(ctx, m, jetstream.WithMsgID(partMsgID(t))); err != nil {
		return unavailable("queue part", err)
	}
	return nil
}

// QueueParts queues a job's parts in lane, in their order, and returns
// once JetStream has stored every one: up to queueWindow are sent before
// the first ack is awaited, so that a plan of many parts costs a round
// trip or a few, not one a part (a 40-part plan was 40 round trips before
// its last part was in the queue). One connection publishing to one
// stream is stored in the order sent, so the lane still holds them in
// plan order.
func (b *Bus) QueueParts(ctx context.Context, tasks []schema.PartTask, lane Lane) error {
	if len(tasks) == 1 {
		return b.QueuePart(ctx, tasks[0], lane)
	}
	// A sync publish gives up after JetStream's API timeout; so do these,
	// a window at a time, should an ack be lost without a disconnect
	// (which fails them at once).
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(len(tasks)/queueWindow+1)*queueAckWait)
		defer cancel()
	}
	acks := make([]jetstream.PubAckFuture, 0, len(tasks))
	for i, t := range tasks {
		if i >= queueWindow {
			if err := awaitAck(ctx, acks[i-queueWindow]); err != nil {
				return err
			}
		}
		m, err := partMsg(t, lane)
		if err != nil {
			return err
		}
		f, err := b.js.PublishMsgAsync(m, jetstream.WithMsgID(partMsgID(t)))
		if err != nil {
			return unavailable("queue part", err)
		}
		acks = append(acks, f)
	}
	for _, f := range acks[max(0, len(acks)-queueWindow):] {
		if err := awaitAck(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// queueWindow bounds the parts sent and not yet acknowledged: half of the
// Bus's async publishes in flight (WithPublishAsyncMaxPending), which the
// object store's chunk writes share.
const queueWindow = 32

// queueAckWait is how long a window's acks may take: nats.go's own
// timeout for a JetStream request.
const queueAckWait = 5 * time.Second

func awaitAck(ctx context.Context, f jetstream.PubAckFuture) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return unavailable("queue part", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func partMsg(t schema.PartTask, lane Lane) (*nats.Msg, error) {
	data, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	subject := schema.PartSubject(t.Ticket)
	if lane == Express {
		subject = schema.ExpressPartSubject(t.Ticket)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	return m, nil
}

func partMsgID(t schema.PartTask) string { return fmt.Sprintf("%s.part.%d", t.Ticket, t.Spec.Part) }

package events

import (
	"context"
	"fmt"
)

// ConsumerLag is a durable consumer's backlog: what an operator watches to
// see the planners, exporters or projector fall behind.
type ConsumerLag struct {
	Pending     uint64 // messages of the stream not yet delivered
	AckPending  uint64 // delivered, not yet acknowledged: work in flight
	Redelivered uint64 // pending messages delivered more than once
}

// ConsumerLag reads the backlog of the durable consumer of stream (e.g.
// EventStream, PlannerName) from JetStream, one request.
func (b *Bus) ConsumerLag(ctx context.Context, stream, consumer string) (ConsumerLag, error) {
	cons, err := b.js.Consumer(ctx, stream, consumer)
	if err != nil {
		return ConsumerLag{}, fmt.Errorf("%s consumer: %w", consumer, err)
	}
	info := cons.CachedInfo() // fetched by the lookup just made
	return ConsumerLag{Pending: info.NumPending, AckPending: uint64(info.NumAckPending),
		Redelivered: uint64(info.NumRedelivered)}, nil
}

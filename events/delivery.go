package events

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// Delivery is one message of a durable consumer, as Consume and
// ConsumeParts hand it to a handler: its payload, how often JetStream has
// delivered it, and the ways to settle it. The handler settles every
// delivery exactly once (Ack, Nak, NakWithDelay or Term); InProgress only
// keeps it, so that a handler that takes longer than the ack wait does not
// lose it to another process.
type Delivery struct {
	m jetstream.Msg
}

// Subject is the subject the message was published on.
func (d *Delivery) Subject() string { return d.m.Subject() }

// Data is the message's payload.
func (d *Delivery) Data() []byte { return d.m.Data() }

// Event decodes the payload as an event, with Seq set to its place in the
// event stream.
func (d *Delivery) Event() (schema.Event, error) { return decodeEvent(d.m) }

// Delivered is how many times JetStream has delivered the message, this
// time included: 1 the first time. 0 when it cannot tell (a message
// without JetStream metadata), which handlers treat as neither a first
// delivery nor a repeated one.
func (d *Delivery) Delivered() uint64 {
	md, err := d.m.Metadata()
	if err != nil {
		return 0
	}
	return md.NumDelivered
}

// Ack settles the message as done and waits for the server to confirm
// it, so that a done job's message is not redelivered after a lost ack.
func (d *Delivery) Ack(ctx context.Context) error { return d.m.DoubleAck(ctx) }

// Nak hands the message back for another delivery at once: what a
// stopping process does with what it cannot finish.
func (d *Delivery) Nak() error { return d.m.Nak() }

// NakWithDelay hands the message back for another delivery after delay:
// a retry with backoff.
func (d *Delivery) NakWithDelay(delay time.Duration) error { return d.m.NakWithDelay(delay) }

// InProgress tells JetStream the handler is still at work: the ack wait
// starts again.
func (d *Delivery) InProgress() error { return d.m.InProgress() }

// Term gives up on the message: it is never delivered again.
func (d *Delivery) Term() error { return d.m.Term() }

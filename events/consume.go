package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
)

// Consume hands the messages of a durable consumer to handle, one at a
// time, until ctx is done. handle settles each message itself (ack, nak or
// term).
func (b *Bus) Consume(ctx context.Context, stream, consumer string, logger *slog.Logger, handle func(context.Context, jetstream.Msg)) error {
	cons, err := b.JS.Consumer(ctx, stream, consumer)
	if err != nil {
		return fmt.Errorf("%s consumer: %w", consumer, err)
	}
	// At most one message waits in this process's buffer: a buffered
	// message's ack wait runs while it waits, and after a crash every
	// buffered message waits out the whole ack wait before anyone gets it.
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			logger.Warn(consumer+" fetch", "err", err)
			continue
		}
		handle(ctx, m)
	}
}

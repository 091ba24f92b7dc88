package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/internal/metrics"
	"github.com/plenario-next/exportd/schema"
)

// Defaults of the Deliverer's retries.
const (
	DefaultWebhookBackoff    = time.Second
	DefaultWebhookMaxBackoff = time.Hour
	DefaultWebhookMaxAge     = 24 * time.Hour
)

// WebhookSender makes one delivery attempt: nil means the endpoint
// answered 2xx. id is the event's id (its stream sequence), the same on
// every attempt.
type WebhookSender interface {
	Send(ctx context.Context, w schema.Webhook, id string, body []byte) error
}

// Deliverer delivers events to the registered webhooks: for each endpoint
// in the registry, a loop of its own pulls from the endpoint's durable
// consumer. Every process that runs one shares each consumer, and a
// consumer hands out one event at a time, so each event is delivered by
// one process, in stream order, and a slow or dead endpoint holds up only
// its own loop.
type Deliverer struct {
	bus    *Bus
	send   WebhookSender
	logger *slog.Logger

	// Keyed is on with API keys: an endpoint is then called only for the
	// jobs of the key that registered it, and one registered without a
	// key for none.
	Keyed bool
	// Backoff is the wait after the first failed attempt, doubled after
	// each further one up to MaxBackoff; an event still undelivered
	// MaxAge after it was published is given up.
	Backoff, MaxBackoff, MaxAge time.Duration
	Metrics                     *metrics.Registry // optional
	Now                         func() time.Time

	mu      sync.Mutex
	clients map[string]string // ticket → client, from queued events
}

// NewDeliverer returns a Deliverer with the default retries.
func NewDeliverer(bus *Bus, send WebhookSender, logger *slog.Logger) *Deliverer {
	return &Deliverer{bus: bus, send: send, logger: logger, Backoff: DefaultWebhookBackoff,
		MaxBackoff: DefaultWebhookMaxBackoff, MaxAge: DefaultWebhookMaxAge, Now: time.Now, clients: map[string]string{}}
}

// Run follows the registry, starting a loop for each endpoint and
// stopping it when the endpoint is removed, until ctx is done.
func (d *Deliverer) Run(ctx context.Context) error {
	loops := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		for _, stop := range loops {
			stop()
		}
		wg.Wait()
	}()
	rc := watchReconnects(ctx, d.bus.nc)
	for ctx.Err() == nil {
		kv, err := d.bus.webhooks(ctx)
		if err == nil {
			err = followKV(ctx, rc, kv, webhookKey+"*", func(e jetstream.KeyValueEntry) {
				id := e.Key()[len(webhookKey):]
				if e.Operation() != jetstream.KeyValuePut {
					if stop, ok := loops[id]; ok {
						stop()
						delete(loops, id)
						d.Metrics.WebhookRemoved(id)
					}
					return
				}
				var hook schema.Webhook
				if _, ok := loops[id]; ok || json.Unmarshal(e.Value(), &hook) != nil {
					return
				}
				lctx, stop := context.WithCancel(ctx)
				loops[id] = stop
				wg.Go(func() { d.loop(lctx, hook) })
			})
		}
		if err != nil {
			d.logger.Warn("webhooks: watch the registry", "err", err)
			if !sleepCtx(ctx, time.Second) {
				return nil
			}
		}
	}
	return nil
}

// loop delivers hook's events until ctx is done.
func (d *Deliverer) loop(ctx context.Context, hook schema.Webhook) {
	for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 5*time.Second) {
		cons, err := d.bus.js.Consumer(ctx, EventStream, WebhookConsumer(hook.ID))
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				d.logger.Warn("webhooks: consumer", "webhook", hook.ID, "err", err)
			}
			sleepCtx(ctx, wait)
			continue
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(1))
		if err != nil {
			sleepCtx(ctx, wait)
			continue
		}
		stopped := context.AfterFunc(ctx, it.Stop)
		for {
			m, err := it.Next()
			if err != nil {
				break
			}
			wait = 100 * time.Millisecond
			d.handle(ctx, hook, m)
		}
		stopped()
		it.Stop()
		sleepCtx(ctx, wait)
	}
}

// handle makes one attempt at delivering m to hook and settles m: acked
// after a 2xx (and for an event of a job hook may not see), redelivered
// after a backoff otherwise, given up past MaxAge.
func (d *Deliverer) handle(ctx context.Context, hook schema.Webhook, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		_ = m.Term()
		return
	}
	e, err := decodeEvent(m)
	if err != nil {
		_ = m.Term()
		return
	}
	// An endpoint of a key's is called for that key's jobs whatever this
	// process was told of keys, so that an exporter started without them
	// cannot leak one key's jobs to another.
	if _, keyed := schema.ClientOwner(hook.Client); keyed || d.Keyed {
		client, err := d.jobClient(ctx, e)
		if err != nil {
			_ = m.NakWithDelay(time.Second)
			return
		}
		if !keyed || client != hook.Client {
			_ = m.Ack()
			return
		}
	}
	e.Version = schema.EventVersion
	body, err := json.Marshal(e)
	if err != nil {
		_ = m.Term()
		return
	}
	err = d.send.Send(ctx, hook, strconv.FormatUint(md.Sequence.Stream, 10), body)
	now := d.Now()
	settle := context.WithoutCancel(ctx)
	switch {
	case err == nil:
		actx, cancel := context.WithTimeout(settle, 5*time.Second)
		_ = m.DoubleAck(actx)
		cancel()
		d.Metrics.WebhookDelivery("delivered", now.Sub(md.Timestamp))
		d.state(settle, hook.ID, func(st *schema.WebhookState) { st.LastSuccess = &now; st.Delivered++ })
		d.ended(settle, hook, e)
	case ctx.Err() != nil:
		_ = m.Nak() // stopping: another process tries it now
		return
	case now.Sub(md.Timestamp) >= d.MaxAge:
		_ = m.Term()
		d.Metrics.WebhookDelivery("given_up", 0)
		msg := fmt.Sprintf("gave up on event %d after %d attempts: %v", md.Sequence.Stream, md.NumDelivered, err)
		d.state(settle, hook.ID, func(st *schema.WebhookState) { st.LastError, st.LastErrorAt = msg, &now; st.GivenUp++ })
		d.ended(settle, hook, e)
	default:
		_ = m.NakWithDelay(d.backoff(md.NumDelivered))
		d.Metrics.WebhookDelivery("failed", 0)
		d.state(settle, hook.ID, func(st *schema.WebhookState) { st.LastError, st.LastErrorAt = err.Error(), &now; st.Failures++ })
	}
	d.Metrics.WebhookPending(hook.ID, md.NumPending)
}

// ended removes a job's callback once its job's end has been delivered
// or given up: nothing more is sent to it.
func (d *Deliverer) ended(ctx context.Context, hook schema.Webhook, e schema.Event) {
	if hook.Ticket == "" || !e.Kind.Terminal() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.bus.DeleteWebhook(ctx, hook.ID); err != nil {
		d.logger.Warn("webhooks: remove a finished job's callback", "webhook", hook.ID, "err", err)
	}
}

// backoff is the wait before attempt n+1.
func (d *Deliverer) backoff(n uint64) time.Duration {
	wait := max(d.Backoff, time.Millisecond)
	for i := uint64(1); i < n && wait < d.MaxBackoff; i++ {
		wait *= 2
	}
	return min(wait, max(d.MaxBackoff, d.Backoff))
}

func (d *Deliverer) state(ctx context.Context, id string, f func(*schema.WebhookState)) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.bus.updateWebhookState(ctx, id, f); err != nil {
		d.logger.Warn("webhooks: state", "webhook", id, "err", err)
	}
}

// maxClients bounds the cache of job owners.
const maxClients = 10000

// jobClient is the client that submitted e's job, from its queued event.
func (d *Deliverer) jobClient(ctx context.Context, e schema.Event) (string, error) {
	if e.Request != nil {
		return e.Request.Client, nil
	}
	d.mu.Lock()
	c, ok := d.clients[e.Ticket]
	d.mu.Unlock()
	if ok {
		return c, nil
	}
	q, err := d.bus.QueuedEvent(ctx, e.Ticket)
	switch {
	case schema.ErrorCode(err) == schema.NotFound:
		return "", nil
	case err != nil:
		return "", err
	case q.Request != nil:
		c = q.Request.Client
	}
	d.mu.Lock()
	if len(d.clients) >= maxClients {
		clear(d.clients)
	}
	d.clients[e.Ticket] = c
	d.mu.Unlock()
	return c, nil
}

// sleepCtx waits for d or ctx, and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

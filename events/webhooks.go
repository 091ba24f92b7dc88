package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// The webhook registry: a KV bucket of its own, so that it outlives
// every exportd process and no job document shares its history. Under
// "ep.<id>" each endpoint (schema.Webhook, with its secret), under
// "st.<id>" its delivery state (schema.WebhookState); each endpoint has a
// durable consumer of the event stream, WebhookConsumer(id).
const (
	WebhookBucket         = "export_webhooks"
	webhookKey            = "ep."
	webhookStateKey       = "st."
	webhookConsumerPrefix = "webhook-"
)

// DefaultWebhookAckWait is how long a delivery may be held by a process
// that went silent before another process makes it: longer than the
// longest delivery attempt (DefaultWebhookTimeout in package webhook).
const DefaultWebhookAckWait = 30 * time.Second

// WebhookConsumer is the durable consumer that holds id's deliveries.
func WebhookConsumer(id string) string { return webhookConsumerPrefix + id }

// webhookFilters are the event subjects of w's kinds: of every job, or of
// its one job.
func webhookFilters(w schema.Webhook) []string {
	job := "*"
	if w.Ticket != "" {
		job = w.Ticket
	}
	if len(w.Events) == len(schema.AllEventKinds) {
		return []string{schema.EventSubjectPrefix + job + ".*"}
	}
	out := make([]string, len(w.Events))
	for i, k := range w.Events {
		out[i] = schema.EventSubjectPrefix + job + "." + string(k)
	}
	return out
}

func (b *Bus) webhooks(ctx context.Context) (jetstream.KeyValue, error) {
	b.webhookMu.Lock()
	defer b.webhookMu.Unlock()
	if b.webhookKV != nil {
		return b.webhookKV, nil
	}
	storage := jetstream.FileStorage
	if b.Config.Memory {
		storage = jetstream.MemoryStorage
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: WebhookBucket, Description: "webhook endpoints and their delivery state",
		History: 1, Storage: storage, Replicas: b.Config.Replicas,
	})
	if err != nil {
		return nil, unavailable("webhook bucket", err)
	}
	b.webhookKV = kv
	return kv, nil
}

// AddWebhook registers w: its consumer first, so that a process that
// sees the entry finds the consumer, then its entry. An endpoint of every
// job gets the events published from now on; a job's callback every event
// of its job, published or not. It returns the endpoint as stored: a
// callback registered already (the same job and URL, whose id is the
// same) is returned as it was, secret included, and nothing changes.
func (b *Bus) AddWebhook(ctx context.Context, w schema.Webhook) (schema.Webhook, error) {
	kv, err := b.webhooks(ctx)
	if err != nil {
		return w, err
	}
	if w.Ticket != "" {
		if had, err := b.Webhook(ctx, w.ID); err == nil || schema.ErrorCode(err) != schema.NotFound {
			return had, err
		}
	}
	policy := jetstream.DeliverNewPolicy
	if w.Ticket != "" {
		policy = jetstream.DeliverAllPolicy
	}
	if _, err := b.js.CreateOrUpdateConsumer(ctx, EventStream, jetstream.ConsumerConfig{
		Durable: WebhookConsumer(w.ID), Description: "deliveries to webhook " + w.ID,
		FilterSubjects: webhookFilters(w), DeliverPolicy: policy,
		// One delivery at a time, so that an endpoint gets its events in
		// stream order, retries included; other endpoints have consumers
		// of their own and never wait on this one.
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: DefaultWebhookAckWait, MaxAckPending: 1, MaxDeliver: -1,
	}); err != nil {
		return w, unavailable("webhook consumer", err)
	}
	data, err := json.Marshal(w)
	if err != nil {
		return w, err
	}
	if _, err := kv.Create(ctx, webhookKey+w.ID, data); errors.Is(err, jetstream.ErrKeyExists) {
		return b.Webhook(ctx, w.ID) // the same callback, registered at the same moment
	} else if err != nil {
		return w, unavailable("register webhook", err)
	}
	return w, nil
}

// Webhook returns endpoint id, secret included; NotFound when there is none.
func (b *Bus) Webhook(ctx context.Context, id string) (schema.Webhook, error) {
	var w schema.Webhook
	kv, err := b.webhooks(ctx)
	if err != nil {
		return w, err
	}
	if !validWebhookID(id) {
		return w, schema.Errorf(schema.NotFound, "Webhook not found.")
	}
	e, err := kv.Get(ctx, webhookKey+id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return w, schema.Errorf(schema.NotFound, "Webhook not found.")
	}
	if err != nil {
		return w, unavailable("read webhook", err)
	}
	return w, json.Unmarshal(e.Value(), &w)
}

// Webhooks returns every registered endpoint, secrets included.
func (b *Bus) Webhooks(ctx context.Context) ([]schema.Webhook, error) {
	kv, err := b.webhooks(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := kv.ListKeysFiltered(ctx, webhookKey+"*")
	if err != nil {
		return nil, unavailable("list webhooks", err)
	}
	var out []schema.Webhook
	for k := range keys.Keys() {
		w, err := b.Webhook(ctx, strings.TrimPrefix(k, webhookKey))
		if schema.ErrorCode(err) == schema.NotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// DeleteWebhook removes endpoint id: its entry first, so that no process
// starts delivering to it again, then its consumer and its state.
func (b *Bus) DeleteWebhook(ctx context.Context, id string) error {
	kv, err := b.webhooks(ctx)
	if err != nil {
		return err
	}
	if err := kv.Delete(ctx, webhookKey+id); err != nil {
		return unavailable("delete webhook", err)
	}
	if err := b.js.DeleteConsumer(ctx, EventStream, WebhookConsumer(id)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return unavailable("delete webhook consumer", err)
	}
	if err := kv.Delete(ctx, webhookStateKey+id); err != nil {
		return unavailable("delete webhook state", err)
	}
	return nil
}

// WebhookState returns endpoint id's delivery state and how many events
// wait for it (not yet delivered, or being delivered).
func (b *Bus) WebhookState(ctx context.Context, id string) (schema.WebhookState, uint64, error) {
	var st schema.WebhookState
	kv, err := b.webhooks(ctx)
	if err != nil {
		return st, 0, err
	}
	e, err := kv.Get(ctx, webhookStateKey+id)
	switch {
	case err == nil:
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			return st, 0, fmt.Errorf("events: bad webhook state %s: %w", id, err)
		}
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return st, 0, unavailable("read webhook state", err)
	}
	cons, err := b.js.Consumer(ctx, EventStream, WebhookConsumer(id))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return st, 0, nil // being deleted: nothing waits any more
	}
	if err != nil {
		return st, 0, unavailable("webhook consumer", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return st, 0, unavailable("webhook consumer", err)
	}
	return st, info.NumPending + uint64(info.NumAckPending), nil
}

// updateWebhookState applies f to id's state, retrying when another
// process wrote it meanwhile.
func (b *Bus) updateWebhookState(ctx context.Context, id string, f func(*schema.WebhookState)) error {
	kv, err := b.webhooks(ctx)
	if err != nil {
		return err
	}
	for range 5 {
		var st schema.WebhookState
		var rev uint64
		e, err := kv.Get(ctx, webhookStateKey+id)
		switch {
		case err == nil:
			rev = e.Revision()
			_ = json.Unmarshal(e.Value(), &st)
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return err
		}
		f(&st)
		data, _ := json.Marshal(st)
		if rev == 0 {
			_, err = kv.Create(ctx, webhookStateKey+id, data)
		} else {
			_, err = kv.Update(ctx, webhookStateKey+id, data, rev)
		}
		if err == nil || !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSequence(err) {
			return err
		}
	}
	return errors.New("events: webhook state kept changing")
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// validWebhookID reports whether id can name an endpoint: lowercase hex,
// which is also a valid consumer name and KV key.
func validWebhookID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

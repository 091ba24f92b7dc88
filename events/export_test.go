package events

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// ForgetStreams drops the object store streams looked up so far, so that
// the next read looks at their configuration again: a test turns direct
// gets off as a replicated store has them (leaderReads).
func (b *Bus) ForgetStreams() {
	b.streamsMu.Lock()
	b.streams = nil
	b.streamsMu.Unlock()
}

// The Bus's JetStream handles, for this package's tests, which look at
// (and break) what the Bus keeps sealed.
func (b *Bus) JS() jetstream.JetStream        { return b.js }
func (b *Bus) Jobs() jetstream.KeyValue       { return b.jobs }
func (b *Bus) Results() jetstream.ObjectStore { return b.results }

// PartInfo is a stored part's object info, as the Bus reads it.
func (b *Bus) PartInfo(ctx context.Context, ticket string, part int) (*jetstream.ObjectInfo, error) {
	return b.partInfo(ctx, ticket, part)
}

// RebindResults binds the result store again, after a test changed its
// stream's configuration, as Open does for a replicated one.
func (b *Bus) RebindResults(ctx context.Context) (err error) {
	b.results, err = b.js.ObjectStore(ctx, ResultBucket)
	return err
}

// Kept is the projector's kept records, for the fold's benchmark.
type Kept = records

// FoldKeeping folds e as the projector does, onto the records in kept
// (nil: reading every record from kv, as Fold does).
func FoldKeeping(ctx context.Context, kv jetstream.KeyValue, kept *Kept, e schema.Event) (*schema.JobRecord, error) {
	return fold(ctx, kv, kept, e)
}

// BeforePublish makes f run inside w's Close, between its commit's look at
// the part and its publish: another writer's commit then comes between.
func BeforePublish(w *PartWriter, f func()) { w.beforePublish = f }

// Keep and Take are the projector's own keep and take of a record.
func (c *records) Keep(ticket string, rec *schema.JobRecord, rev uint64) { c.keep(ticket, rec, rev) }

// Take is records.take, reporting only whether ticket's record was kept.
func (c *records) Take(ticket string) bool { _, ok := c.take(ticket); return ok }

// Bytes is the kept records' size, and MaxRecordBytes its bound.
func (c *records) Bytes() int { return c.bytes }

const MaxRecordBytes = maxRecordBytes

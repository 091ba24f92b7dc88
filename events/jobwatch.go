package events

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// JobChange is one change of a job document, as WatchJobs sees it.
type JobChange struct {
	Ticket   string
	Revision uint64 // the KV revision of this change
	// Value is the record as stored (DecodeJob reads it); nil when Deleted.
	Value   []byte
	Deleted bool // removed from the bucket (deleted or purged)
}

// WatchJobs calls changed with every job document as it stands now, then
// with every change of any of them, one at a time in the order of the
// bucket, until ctx is done or the watch ends (nil then): how a gateway
// keeps a cache of documents and counts each client's active jobs without
// reading the bucket for each request. A NATS restart or failover does
// not stop the changes (followKV).
func (b *Bus) WatchJobs(ctx context.Context, changed func(JobChange)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a watch that ends stops following the connects too
	return followKV(ctx, watchReconnects(ctx, b.nc), b.jobs, jetstream.AllKeys, func(e jetstream.KeyValueEntry) {
		c := JobChange{Ticket: e.Key(), Revision: e.Revision()}
		if e.Operation() != jetstream.KeyValuePut {
			c.Deleted = true
		} else {
			c.Value = e.Value()
		}
		changed(c)
	})
}

package exporter

import (
	"context"
	"sync"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// metaTTL is how long a planner reuses a network's meta_ids: a burst of
// requests reads the network's metadata once, not once a request, and a
// change of metadata reaches jobs planned a few seconds later.
const metaTTL = 10 * time.Second

// metaCache keeps the meta_ids of each network's nodes (schema.MetaIDs).
// The zero value is ready.
//
// One read of a network at a time: when its copy expired, the plans in
// flight (up to ShortPlans, 32) all found it old at once and each read the
// network from ClickHouse (three queries) and hashed every node's
// metadata; now the first reads it and the others wait for its answer,
// an error included.
type metaCache struct {
	mu      sync.Mutex
	m       map[string]cachedIDs
	reading map[string]*metaRead
}

type cachedIDs struct {
	ids  schema.MetaIDs
	when time.Time
}

// metaRead is a read of a network's meta_ids under way: done is closed
// when ids and err are set.
type metaRead struct {
	done chan struct{}
	ids  schema.MetaIDs
	err  error
}

// get returns the meta_ids of every node of network, read by read (the
// store's Network) when the cached ones are older than metaTTL. The read
// runs on the context of the get that began it: the planner's plans share
// one, which ends only when the planner stops.
func (c *metaCache) get(ctx context.Context, read func(context.Context, string) (*schema.Network, error), network string, now time.Time) (schema.MetaIDs, error) {
	c.mu.Lock()
	if e, ok := c.m[network]; ok && now.Sub(e.when) < metaTTL {
		c.mu.Unlock()
		return e.ids, nil
	}
	if r := c.reading[network]; r != nil {
		c.mu.Unlock()
		select {
		case <-r.done:
			return r.ids, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r := &metaRead{done: make(chan struct{})}
	if c.reading == nil {
		c.reading = map[string]*metaRead{}
	}
	c.reading[network] = r
	c.mu.Unlock()

	n, err := read(ctx, network)
	if err == nil {
		r.ids = n.MetaIDs(nil)
	}
	r.err = err
	c.mu.Lock()
	if err == nil {
		if c.m == nil {
			c.m = map[string]cachedIDs{}
		}
		c.m[network] = cachedIDs{ids: r.ids, when: now}
	}
	delete(c.reading, network)
	c.mu.Unlock()
	close(r.done)
	return r.ids, r.err
}

// metaIDs are the meta_ids of q's nodes, as its job fixes them: a job
// that names its nodes carries only theirs.
func (p *Planner) metaIDs(ctx context.Context, q *schema.Query) (schema.MetaIDs, error) {
	all, err := p.meta.get(ctx, p.store.Network, q.Network, time.Now())
	if err != nil || q.AllNodes {
		return all, err
	}
	ids := make(schema.MetaIDs, len(q.Nodes))
	for _, id := range q.Nodes {
		if v, ok := all[id]; ok {
			ids[id] = v
		}
	}
	return ids, nil
}

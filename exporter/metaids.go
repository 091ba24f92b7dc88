package exporter

import (
	"context"
	"sync"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// metaTTL is how long a planner reuses a network's meta_ids: a burst of
// requests reads the network's metadata once, not once a request, and a
// change of metadata reaches jobs planned a few seconds later.
const metaTTL = 10 * time.Second

// metaCache keeps the meta_ids of each network's nodes (schema.MetaIDs).
// The zero value is ready.
type metaCache struct {
	mu sync.Mutex
	m  map[string]cachedIDs
}

type cachedIDs struct {
	ids  schema.MetaIDs
	when time.Time
}

// get returns the meta_ids of every node of network, read from store when
// the cached ones are older than metaTTL.
func (c *metaCache) get(ctx context.Context, store *chstore.Store, network string, now time.Time) (schema.MetaIDs, error) {
	c.mu.Lock()
	e, ok := c.m[network]
	c.mu.Unlock()
	if ok && now.Sub(e.when) < metaTTL {
		return e.ids, nil
	}
	n, err := store.Network(ctx, network)
	if err != nil {
		return nil, err
	}
	ids := n.MetaIDs(nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedIDs{}
	}
	c.m[network] = cachedIDs{ids: ids, when: now}
	return ids, nil
}

// metaIDs are the meta_ids of q's nodes, as its job fixes them: a job
// that names its nodes carries only theirs.
func (p *Planner) metaIDs(ctx context.Context, q *schema.Query) (schema.MetaIDs, error) {
	all, err := p.meta.get(ctx, p.store, q.Network, time.Now())
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

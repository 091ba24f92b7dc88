package gateway

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// DefaultCachedJobs bounds the job documents a gateway keeps in memory.
const DefaultCachedJobs = 50_000

// jobCache holds the job records the KV watch (Run) delivers, so that
// polling, the hottest route, costs no round trip to NATS. A miss falls
// back to the KV. It holds the stored bytes, not decoded records, so that
// no handler can change what another reads.
type jobCache struct {
	mu  sync.RWMutex
	m   map[string]*cachedJob
	max int
}

type cachedJob struct {
	raw      []byte // the KV value: a JobRecord
	client   string
	terminal bool
	expires  time.Time // zero: unknown

	once sync.Once
	doc  []byte // the rendered job document, made on first read
}

func newJobCache(max int) *jobCache {
	return &jobCache{m: map[string]*cachedJob{}, max: max}
}

// put stores ticket's record as the watch saw it, with the fields of it
// that reads check before decoding it.
func (c *jobCache) put(ticket string, raw []byte, client string, terminal bool, expiresAt string) {
	cj := &cachedJob{raw: raw, client: client, terminal: terminal}
	if t, err := time.Parse(schema.MetaTimeLayout, expiresAt); err == nil {
		cj.expires = t
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[ticket] = cj
	if len(c.m) <= c.max {
		return
	}
	for k, v := range c.m { // over the bound: drop finished jobs first
		if len(c.m) <= c.max*9/10 {
			return
		}
		if v.terminal {
			delete(c.m, k)
		}
	}
	for k := range c.m {
		if len(c.m) <= c.max*9/10 {
			return
		}
		delete(c.m, k)
	}
}

func (c *jobCache) remove(ticket string) {
	c.mu.Lock()
	delete(c.m, ticket)
	c.mu.Unlock()
}

// get returns ticket's cached record, unless it is past its expiry (the
// KV's TTL removes it without telling watchers).
func (c *jobCache) get(ticket string, now time.Time) *cachedJob {
	c.mu.RLock()
	cj := c.m[ticket]
	c.mu.RUnlock()
	if cj == nil || (!cj.expires.IsZero() && now.After(cj.expires)) {
		return nil
	}
	return cj
}

// record decodes a fresh copy of the cached record.
func (cj *cachedJob) record() (*schema.JobRecord, error) {
	var rec schema.JobRecord
	if err := json.Unmarshal(cj.raw, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// document returns the job document g renders of the record.
func (cj *cachedJob) document(ctx context.Context, g *Gateway) []byte {
	cj.once.Do(func() {
		rec, err := cj.record()
		if err != nil {
			return
		}
		b, err := json.Marshal(g.document(ctx, rec))
		if err == nil {
			cj.doc = append(b, '\n')
		}
	})
	return cj.doc
}

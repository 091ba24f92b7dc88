package gateway

import (
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

// put stores ticket's record as the watch saw it.
func (c *jobCache) put(ticket string, raw []byte, rec *schema.JobRecord) {
	cj := &cachedJob{raw: raw, client: rec.Client, terminal: rec.Terminal()}
	if t, err := time.Parse(schema.MetaTimeLayout, rec.Job.Status.Meta.ExpiresAt); err == nil {
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

// document returns the rendered job document.
func (cj *cachedJob) document() []byte {
	cj.once.Do(func() {
		rec, err := cj.record()
		if err != nil {
			return
		}
		b, err := json.Marshal(jobDocument(rec))
		if err == nil {
			cj.doc = append(b, '\n')
		}
	})
	return cj.doc
}

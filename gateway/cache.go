package gateway

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plenario-next/exportd/schema"
)

// DefaultCachedJobs bounds the job documents a gateway keeps in memory.
const DefaultCachedJobs = 50_000

// jobCache holds the job records the KV watch (Run) delivers, so that
// polling, the hottest route, costs no round trip to NATS. A miss falls
// back to the KV and keeps what it read. It holds the stored bytes, not
// decoded records, so that no handler can change what another reads.
//
// Every entry carries the KV revision it was read at, and a record is
// replaced only by a later one: a read of the KV that loses a race with
// the watch cannot put an older record back. A deletion leaves a
// tombstone of its revision for the same reason. Past max entries, it
// drops what was not read since the last time it dropped any, tombstones
// and finished jobs first: a job being polled stays.
//
// A cancel this gateway published is folded here at once (fold), and that
// record stays until the KV's folds the cancel too, so that the client who
// cancelled reads what it was answered (read your writes), not the record
// the projector wrote before. The active jobs' counts follow the record in
// force, updated before a reader can see it: a client shown its job
// finished or cancelled may submit the next one.
type jobCache struct {
	mu     sync.RWMutex
	m      map[string]*cachedJob
	max    int
	active *active // optional: kept in step with the records in force
}

type cachedJob struct {
	rev      uint64 // KV revision of raw (or of the deletion)
	seq      uint64 // the record's last folded event
	gone     bool   // deleted at rev
	folded   bool   // folded here from an event published here, not read from the KV
	raw      []byte // the KV value: a JobRecord
	client   string
	terminal bool
	final    bool        // terminal, not a success: a cancel folds into nothing
	expires  time.Time   // zero: unknown
	read     atomic.Bool // read since the last eviction pass

	once sync.Once
	doc  []byte // the rendered job document, made on first read
}

func newJobCache(max int, a *active) *jobCache {
	return &jobCache{m: map[string]*cachedJob{}, max: max, active: a}
}

// put stores ticket's record at revision rev, with the fields of it that
// reads check before decoding it, unless the cache has a later one.
func (c *jobCache) put(ticket string, rev, seq uint64, raw []byte, client, status, expiresAt string) {
	cj := &cachedJob{rev: rev, seq: seq, raw: raw, client: client, terminal: schema.TerminalStatus(status),
		final: schema.TerminalStatus(status) && status != schema.StatusSuccess}
	if t, err := time.Parse(schema.MetaTimeLayout, expiresAt); err == nil {
		cj.expires = t
	}
	c.store(ticket, cj)
}

// fold stores rec, which folds an event this gateway published at stream
// sequence rec.Seq, in place of the record the KV holds, until the KV's
// record has folded that event as well.
func (c *jobCache) fold(ticket string, rec *schema.JobRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	cj := &cachedJob{seq: rec.Seq, raw: raw, client: rec.Client, terminal: rec.Terminal(), folded: true}
	if t, err := time.Parse(schema.MetaTimeLayout, rec.Job.Status.Meta.ExpiresAt); err == nil {
		cj.expires = t
	}
	c.store(ticket, cj)
	return nil
}

// replaces reports whether cj is to replace old, ticket's entry: a later
// revision does, unless old is a fold of an event that cj has not folded
// yet and may still fold (the projector writes nothing for a cancel of a
// job that failed meanwhile: that record is the last); a fold replaces any
// record that has not folded its event.
func (cj *cachedJob) replaces(old *cachedJob) bool {
	switch {
	case old == nil:
		return true
	case cj.folded:
		if old.gone || old.seq >= cj.seq {
			return false
		}
		cj.rev = old.rev // the revisions that may replace it stay as they were
		return true
	case old.folded && !cj.gone && !cj.final && cj.seq < old.seq:
		return false
	}
	return cj.rev >= old.rev
}

// remove records that ticket was deleted at revision rev.
func (c *jobCache) remove(ticket string, rev uint64) {
	c.store(ticket, &cachedJob{rev: rev, gone: true, terminal: true})
}

func (c *jobCache) store(ticket string, cj *cachedJob) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !cj.replaces(c.m[ticket]) {
		return
	}
	if c.active != nil { // before any reader sees cj
		if cj.terminal {
			c.active.remove(ticket)
		} else {
			c.active.add(cj.client, ticket)
		}
	}
	c.m[ticket] = cj
	if len(c.m) <= c.max {
		return
	}
	// Down to nine tenths: deletions and finished jobs nobody read since
	// the last time, then anything unread, then finished jobs, then any.
	low := c.max * 9 / 10
	evict := func(drop func(*cachedJob) bool) bool {
		for k, v := range c.m {
			if len(c.m) <= low {
				return true
			}
			if drop(v) {
				delete(c.m, k)
			}
		}
		return len(c.m) <= low
	}
	_ = evict(func(v *cachedJob) bool { return v.gone || v.terminal && !v.read.Load() }) ||
		evict(func(v *cachedJob) bool { return !v.read.Load() }) ||
		evict(func(v *cachedJob) bool { return v.terminal }) ||
		evict(func(*cachedJob) bool { return true })
	for _, v := range c.m {
		v.read.Store(false)
	}
}

// get returns ticket's cached record, unless it is deleted or past its
// expiry (the KV's TTL removes it without telling watchers).
func (c *jobCache) get(ticket string, now time.Time) *cachedJob {
	c.mu.RLock()
	cj := c.m[ticket]
	c.mu.RUnlock()
	if cj == nil || cj.gone || (!cj.expires.IsZero() && now.After(cj.expires)) {
		return nil
	}
	if !cj.read.Load() {
		cj.read.Store(true)
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

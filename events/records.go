package events

import (
	"sync"

	"github.com/plenario-next/exportd/schema"
)

// records keeps the record the projector last wrote for each job still
// running, with its KV revision, so that folding a job's next event needs
// no read of the bucket: the write is a compare-and-set on that revision,
// which fails if anything else wrote since (another projector process
// after a handover, an expiry), and then the fold reads the bucket as
// before. A ticket's events are folded by one worker at a time, in order
// (Consume shards by ticket), so a record taken out is never folded twice
// at once.
//
// Why: the read was one JetStream round trip per event, and a JSON decode
// of the whole record for every event but a job's first. In the bench's
// create profile (a burst of tickets) kvs.Get was 15 % of the exporter
// process's CPU; BenchmarkFoldJob (a four-part job's seven events, NATS
// in the process) 2.2-3.2 CPU ms and 2.3-4.9 ms a job reading each record
// back, 1.1-1.3 CPU ms and 1.1-1.5 ms with the records kept (alternating
// runs, load 19-23).
type records struct {
	mu sync.Mutex
	m  map[string]cachedRecord
}

type cachedRecord struct {
	rec *schema.JobRecord
	rev uint64
}

// maxRecords bounds the records kept: the jobs in flight at once, past
// which a fold reads the bucket. maxRecordParts keeps whole-table jobs'
// records (their plans of hundreds of parts) out, so that the bound is a
// few MB, not hundreds.
const (
	maxRecords     = 1024
	maxRecordParts = 128
)

// take removes and returns ticket's record, if kept.
func (c *records) take(ticket string) (cachedRecord, bool) {
	if c == nil {
		return cachedRecord{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[ticket]
	if ok {
		delete(c.m, ticket)
	}
	return r, ok
}

// keep records rec as written at rev. A finished job's record is not kept:
// its few later events (a cancel of its result, its expiry) read the
// bucket. When full, another job's record makes room: a record is only
// ever a shortcut.
func (c *records) keep(ticket string, rec *schema.JobRecord, rev uint64) {
	if c == nil || rec.Terminal() || len(rec.Plan) > maxRecordParts {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedRecord)
	}
	if _, ok := c.m[ticket]; !ok && len(c.m) >= maxRecords {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[ticket] = cachedRecord{rec: rec, rev: rev}
}

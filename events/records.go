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
	mu    sync.Mutex
	m     map[string]cachedRecord
	bytes int // the kept records' recordSize
}

type cachedRecord struct {
	rec  *schema.JobRecord
	rev  uint64
	size int
}

// maxRecordBytes bounds the records kept, by recordSize: past it a fold
// reads the bucket. It was a count of 1 024 records, the jobs in flight at
// once; but a burst of tickets queues tens of thousands before the planner
// starts them, and every started event past the last 1 024 read its record
// back (a KV get and a json.Unmarshal: 10 % of the exporter process's CPU
// in the burst of make bench's load phase, 13 % in its drain, 2026-12-02
// 14:14). A queued job's record is about 800 bytes in memory
// (JobRecord.Apply of a decoded queued event), so 32 MB holds the records
// of some 30 000 jobs not yet started. maxRecordParts keeps whole-table
// jobs' records (their plans of hundreds of parts) out.
const (
	maxRecordBytes = 32 << 20
	maxRecordParts = 128
)

// recordSize is about what rec holds in memory, in bytes: the measured
// 800 of a queued job's record, rounded up, and its plan and meta_ids,
// which a started job's record adds (a network of 100 nodes: 100 entries).
func recordSize(rec *schema.JobRecord) int {
	return 1024 + 128*len(rec.Plan) + 64*len(rec.MetaIDs)
}

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
		c.bytes -= r.size
	}
	return r, ok
}

// keep records rec as written at rev. A finished job's record is not kept:
// its few later events (a cancel of its result, its expiry) read the
// bucket. When full, other jobs' records make room: a record is only ever
// a shortcut.
func (c *records) keep(ticket string, rec *schema.JobRecord, rev uint64) {
	if c == nil || rec.Terminal() || len(rec.Plan) > maxRecordParts {
		return
	}
	size := recordSize(rec)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedRecord)
	}
	if old, ok := c.m[ticket]; ok {
		c.bytes -= old.size
	}
	for k, v := range c.m {
		if c.bytes+size <= maxRecordBytes {
			break
		}
		delete(c.m, k)
		c.bytes -= v.size
	}
	c.m[ticket] = cachedRecord{rec: rec, rev: rev, size: size}
	c.bytes += size
}

package gateway

import (
	"context"

	"github.com/plenario-next/exportd/events"
)

// Run keeps the gateway's view of jobs current until ctx is done: the
// cache polling is served from, and the active jobs limits count. Without
// it, every read goes to the KV and limits are not enforced.
func (g *Gateway) Run(ctx context.Context) error {
	return g.bus.WatchJobs(ctx, g.jobChanged)
}

// jobChanged applies one change of a job document to the cache, which keeps
// the active jobs in step.
func (g *Gateway) jobChanged(c events.JobChange) {
	if c.Deleted {
		g.cache.remove(c.Ticket, c.Revision)
		return
	}
	g.cacheRecord(c.Ticket, c.Revision, c.Value)
}

// cacheRecord keeps a job record read from the KV at revision rev; a
// record that does not decode is dropped from the cache instead. Every
// update of every job passes here: only the fields the cache and the
// limits need are decoded, not the request.
func (g *Gateway) cacheRecord(ticket string, rev uint64, raw []byte) {
	h, ok := decodeHead(raw)
	if !ok {
		g.cache.remove(ticket, rev)
		return
	}
	g.cache.put(ticket, rev, h.Seq, raw, h.Client, h.Job.Status.Status, h.Job.Status.Meta.ExpiresAt)
}

// recordHead is the part of a schema.JobRecord that Run reads.
type recordHead struct {
	Job struct {
		Status struct {
			Status string `json:"status"`
			Meta   struct {
				ExpiresAt string `json:"expiresAt"`
			} `json:"meta"`
		} `json:"status"`
	} `json:"job"`
	Client string `json:"client"`
	Seq    uint64 `json:"seq"`
}

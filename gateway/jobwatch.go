package gateway

import (
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plenario-next/exportd/schema"
)

// Run keeps the gateway's view of jobs current until ctx is done: the
// cache polling is served from, and the active jobs limits count. Without
// it, every read goes to the KV and limits are not enforced.
func (g *Gateway) Run(ctx context.Context) error {
	w, err := g.bus.Jobs.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil { // the initial values are in
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				g.active.remove(e.Key())
				g.cache.remove(e.Key(), e.Revision())
				continue
			}
			// Every update of every job passes here: only the fields the
			// cache and the limits need are decoded, not the request.
			h, ok := g.cacheRecord(e.Key(), e.Revision(), e.Value())
			if !ok {
				g.active.remove(e.Key())
				continue
			}
			if h.terminal() {
				g.active.remove(e.Key())
			} else {
				g.active.add(h.Client, e.Key())
			}
		}
	}
}

// cacheRecord keeps a job record read from the KV at revision rev, and
// returns the part of it the limits need; a record that does not decode
// is dropped from the cache instead.
func (g *Gateway) cacheRecord(ticket string, rev uint64, raw []byte) (recordHead, bool) {
	var h recordHead
	if json.Unmarshal(raw, &h) != nil {
		g.cache.remove(ticket, rev)
		return h, false
	}
	g.cache.put(ticket, rev, h.Seq, raw, h.Client, h.terminal(), h.Job.Status.Meta.ExpiresAt)
	return h, true
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

func (h *recordHead) terminal() bool { return schema.TerminalStatus(h.Job.Status.Status) }

package exporter

import (
	"context"
	"sync"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/schema"
)

// secondsKey is the key of q's batch, if its histogram can be counted with
// others' in one query (chstore.Seconds): its window shorter than 2 048 * 2
// seconds, so that its buckets are of one second (planStep), and its
// filter, if any, a condition on rows.
func secondsKey(q *schema.Query) (string, bool) {
	if planStep(q.Start, q.End) != time.Second {
		return "", false
	}
	return chstore.SecondsKey(q)
}

// secondsBatches are the histograms of short windows waiting for a
// planner's slot, by key: the plans that wait together share one
// ClickHouse query. The zero value is ready.
type secondsBatches struct {
	mu   sync.Mutex
	open map[string]*secondsBatch
}

// secondsBatch is one query of chstore.Seconds and the windows it counts.
type secondsBatch struct {
	q     *schema.Query // the selection's first query
	spans []chstore.Span
	done  chan struct{} // closed when hist and err are set
	hist  []chstore.Bucket
	err   error
}

// join adds q's window to the open batch of key, or opens one: leader then
// says the caller runs it.
func (bs *secondsBatches) join(key string, q *schema.Query) (b *secondsBatch, leader bool) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b = bs.open[key]
	if b == nil {
		if bs.open == nil {
			bs.open = map[string]*secondsBatch{}
		}
		b, leader = &secondsBatch{q: q, done: make(chan struct{})}, true
		bs.open[key] = b
	}
	b.spans = append(b.spans, chstore.Span{From: q.Start, To: q.End})
	return b, leader
}

// close takes the batch of key out of reach of later joins and returns its
// windows.
func (bs *secondsBatches) close(key string, b *secondsBatch) []chstore.Span {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.open[key] == b {
		delete(bs.open, key)
	}
	return b.spans
}

// secondsHistogram is q's histogram (step one second), counted in one
// query with those of every other plan of key waiting for a slot with it:
// the first of them waits for the slot, the others join it meanwhile. In
// a burst of small requests a plan's ClickHouse query, about 1.3 ms of its
// CPU for an empty window, was most of what planning cost.
func (p *Planner) secondsHistogram(ctx context.Context, key string, q *schema.Query) ([]chstore.Bucket, error) {
	b, leader := p.batches.join(key, q)
	if leader {
		release, ok := p.begin(ctx)
		spans := p.batches.close(key, b)
		if !ok {
			b.err = ctx.Err()
		} else {
			b.hist, b.err = p.store.Seconds(ctx, b.q, spans)
			release()
		}
		close(b.done)
	} else {
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	return chstore.BucketsIn(b.hist, q.Start, q.End), nil
}

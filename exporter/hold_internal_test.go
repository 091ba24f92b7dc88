package exporter

import (
	"context"

	"github.com/plenario-next/exportd/schema"
)

// HoldPlans makes p call hold as each plan begins, so that a test can keep
// chosen plans running for as long as it needs (a whole-table plan takes
// seconds of ClickHouse on the bench's 20 M rows, the test's a few ms).
func HoldPlans(p *Planner, hold func(context.Context, schema.Event)) { p.hold = hold }

// HoldParts makes x call hold inside each part, every 65 536 rows it
// reads, with the part's context, so that a test can keep a part running
// halfway, chunks of it stored, for as long as it needs.
func HoldParts(x *Exporter, hold func(ctx context.Context, t schema.PartTask, rows int64)) {
	x.hold = hold
}

// WaitingSeconds is the most short windows' histograms waiting in one
// batch of p (secondsHistogram) for a slot.
func WaitingSeconds(p *Planner) int {
	p.batches.mu.Lock()
	defer p.batches.mu.Unlock()
	most := 0
	for _, b := range p.batches.open {
		most = max(most, len(b.spans))
	}
	return most
}

package gateway

import (
	"context"
	"time"

	"github.com/plenario-next/exportd/events"
)

// DefaultSSESettle bounds how long an event stream holds a job's terminal
// event back until this gateway's job document shows it (see settle).
const DefaultSSESettle = 10 * time.Second

// settle waits until the job document this gateway serves for ticket has
// folded the event at seq, or is finished, for at most max.
//
// Event streams read the event stream itself, while GET /v1/api/jobs/{ticket}
// reads the record the projector folds into the KV, which this gateway's
// cache follows by a watch: both lag the events. A client told "succeeded"
// that at once asks for the document must not find it still processing with
// a part short, so a stream's terminal event waits for the document. Each
// read of the KV is cached (later revisions only), which is what makes the
// cache, and so every later GET here, show at least what was read. Only
// terminal events wait: each of them changes a record that is not yet
// finished, so the wait ends as soon as the projector has folded it;
// progress events may be folded into nothing (a part redone), and waiting
// for those could only time out. A stalled projector delays the terminal
// event by max, and no more.
func (g *Gateway) settle(ticket string, seq uint64, max time.Duration) {
	deadline := time.Now().Add(max)
	pause := 2 * time.Millisecond
	for {
		if g.folded(ticket, seq) || time.Now().After(deadline) {
			return
		}
		time.Sleep(pause)
		if pause < 50*time.Millisecond {
			pause *= 2
		}
	}
}

// folded reports whether ticket's document here has folded the event at
// seq, or is finished; a cache that is behind is brought up to the KV.
func (g *Gateway) folded(ticket string, seq uint64) bool {
	if cj := g.cache.get(ticket, g.Now()); cj != nil && (cj.terminal || cj.seq >= seq) {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	raw, rev, err := g.bus.JobRaw(ctx, ticket)
	if err != nil {
		return false
	}
	g.cacheRecord(ticket, rev, raw)
	rec, err := events.DecodeJob(ticket, raw)
	return err == nil && (rec.Terminal() || rec.Seq >= seq)
}

package events_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/internal/cputime"
	"github.com/plenario-next/exportd/schema"
)

// BenchmarkFoldJob folds the events of a four-part job (queued, started,
// four part_done, succeeded) into the job bucket, as the projector does
// (kept) and reading every record back first, as it did (read). One op is
// one job; cpu-µs/job is this process's CPU, the embedded NATS server's
// included.
func BenchmarkFoldJob(b *testing.B) {
	bus := newBus(b)
	ctx := context.Background()
	n := &schema.Network{Name: "array_of_things"}
	var seq uint64
	job := func(kept *events.Kept) {
		var t [16]byte
		_, _ = rand.Read(t[:])
		ticket := hex.EncodeToString(t[:])
		req := request(n, ticket, seedEnd.Add(-time.Hour))
		plan := make([]schema.PartSpec, 4)
		for i := range plan {
			plan[i] = schema.PartSpec{Part: i + 1, From: req.Query.Start, To: req.Query.End}
		}
		evs := []schema.Event{{Kind: schema.EventQueued, Request: &req}, {Kind: schema.EventStarted, Plan: plan, Parts: 4}}
		for i := range 4 {
			evs = append(evs, schema.Event{Kind: schema.EventPartDone, Part: i + 1, Parts: 4, Rows: 250_000, Bytes: 17 << 20})
		}
		evs = append(evs, schema.Event{Kind: schema.EventSucceeded, URL: "http://test/"})
		for _, e := range evs {
			seq++
			e.Ticket, e.Seq, e.Time = ticket, seq, time.Now().UTC()
			if _, err := events.FoldKeeping(ctx, bus.Jobs(), kept, e); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name string
		kept *events.Kept
	}{{"read", nil}, {"kept", &events.Kept{}}} {
		b.Run(c.name, func(b *testing.B) {
			cpu := cputime.Self()
			for b.Loop() {
				job(c.kept)
			}
			b.ReportMetric(float64((cputime.Self()-cpu).Microseconds())/float64(b.N), "cpu-µs/job")
		})
	}
}

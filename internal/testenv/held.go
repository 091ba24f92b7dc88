package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/schema"
)

// Held is a service whose exporter the test starts and stops, so that a
// job stays running with some of its parts stored for as long as the test
// needs: no sleeps, no race with the export. Its planner cuts jobs in
// parts of 2 000 rows; its exporter stores one part at a time.
type Held struct {
	*Service
	stop func() // stops the running exporter; nil when none runs
}

// StartHeld seeds rows of the demo network array_of_things, ending at end,
// and starts a Held service with no exporter running yet.
func StartHeld(tb testing.TB, rows int64, end time.Time) *Held {
	tb.Helper()
	svc := StartService(tb, ServiceOptions{NoExporter: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := svc.Store.Seed(ctx, chstore.DemoNetwork("array_of_things"), rows, end); err != nil {
		tb.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	pl := exporter.NewPlanner(svc.Bus, svc.Store, TestLogger())
	pl.PartRows = 2000
	done := make(chan struct{})
	go func() { defer close(done); _ = pl.Run(pctx) }()
	h := &Held{Service: svc}
	tb.Cleanup(func() {
		h.Hold()
		pcancel()
		<-done
	})
	return h
}

// Run starts the exporter.
func (h *Held) Run() {
	if h.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ex := exporter.NewExporter(h.Bus, h.Store, TestLogger())
	ex.Concurrency = 1
	done := make(chan struct{})
	go func() { defer close(done); _ = ex.Run(ctx) }()
	h.stop = func() { cancel(); <-done }
}

// Hold stops the exporter; a part in flight goes back to the queue.
func (h *Held) Hold() {
	if h.stop != nil {
		h.stop()
		h.stop = nil
	}
}

// HoldAfterFirstPart runs the exporter until the job has part 1 stored,
// then stops it, waits until the service has settled (Settled), and checks
// that the job is processing with parts to go. A part the exporter
// finished as it stopped is folded by then, so that what the test reads
// next, through the gateway or the KV, is one state.
func (h *Held) HoldAfterFirstPart(tb testing.TB, ticket string) {
	tb.Helper()
	h.Run()
	Eventually(tb, time.Minute, "part 1 of "+ticket+" stored", func() bool {
		rec, _, err := h.Bus.Job(context.Background(), ticket)
		return err == nil && len(rec.PartsDone) > 0 && rec.PartsDone[0]&1 != 0
	})
	h.Hold()
	h.Settled(tb, ticket)
	if st := h.Job(tb, ticket).Status; st.Status != schema.StatusProcessing || st.Progress.Done >= st.Progress.Total {
		tb.Fatalf("job %s after part 1: %s, %+v; want it processing with parts to go", ticket, st.Status, st.Progress)
	}
}

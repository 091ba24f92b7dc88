package exporter_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestShortPlansShareAQuery: requests of short windows waiting for the
// planner's one slot, held by a long plan, wait in one batch, whose one
// query counts all their histograms when the slot frees; and each job is
// planned as it would be alone: the parts and estimates of its own
// histogram.
func TestShortPlansShareAQuery(t *testing.T) {
	svc, _ := seeded(t, 200_000, testenv.ServiceOptions{NoExporter: true})
	pl := exporter.NewPlanner(svc.Bus, svc.Store, testenv.TestLogger())
	pl.Workers, pl.StepAside = 1, 0 // the long plan holds the one slot until let go
	pl.PartRows = 300               // a short window's plan of a few parts
	ctx, holding, letGo := runHeldPlanner(t, svc, pl)

	long := svc.Submit(t, "array_of_things", window)
	testenv.Eventually(t, 30*time.Second, "the long plan running", func() bool { return holding.Load() > 0 })
	windows := []string{ // under 68 minutes each: one-second buckets
		"start_datetime=2026-09-28T10:00:00&end_datetime=2026-09-28T11:05:00",
		"start_datetime=2026-09-28T10:30:00&end_datetime=2026-09-28T11:35:00", // overlaps the first
		"start_datetime=2026-09-28T11:35:00&end_datetime=2026-09-28T12:40:00", // touches the second
		"start_datetime=2026-09-29T03:00:00&end_datetime=2026-09-29T04:05:00",
		"start_datetime=2026-09-29T03:00:00&end_datetime=2026-09-29T04:05:00&data_type=json", // the same rows
		"start_datetime=2001-01-01T00:00:00&end_datetime=2001-01-01T00:00:01",                // none
	}
	var short []string
	for _, w := range windows {
		short = append(short, svc.Submit(t, "array_of_things", w))
	}
	testenv.Eventually(t, 30*time.Second, "the short plans waiting in one batch", func() bool {
		return exporter.WaitingSeconds(pl) == len(short)
	})
	letGo()
	empty, parted := 0, 0
	for _, ticket := range append(short, long) {
		if j := svc.Wait(t, ticket, 3*time.Minute); j.Status.Status != schema.StatusSuccess {
			t.Fatalf("job %s: got %q (%v), want success", ticket, j.Status.Status, j.Result)
		}
	}
	for i, ticket := range short {
		queued, _, err := svc.Bus.LastEvent(ctx, ticket, schema.EventQueued)
		if err != nil {
			t.Fatal(err)
		}
		started, _, err := svc.Bus.LastEvent(ctx, ticket, schema.EventStarted)
		if err != nil {
			t.Fatal(err)
		}
		q := queued.Request.Query
		hist, err := svc.Store.Histogram(ctx, &q, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want := exporter.Plan(q.Start, q.End, hist, pl.PartRows, pl.MaxParts)
		if len(started.Plan) != 0 || len(want) != 0 {
			if !reflect.DeepEqual(started.Plan, want) {
				t.Fatalf("window %d: got plan %+v, want %+v", i, started.Plan, want)
			}
		}
		switch {
		case len(want) == 0:
			empty++
		case len(want) > 1:
			parted++
		}
	}
	if empty != 1 || parted < 2 {
		t.Fatalf("%d of the short jobs have no part, %d more than one: the test needs one empty and rows in the others", empty, parted)
	}
}

// TestLongPlansBoundShortOnesNot: MaxPlans bounds the plans of long
// windows in flight, even when each steps aside at once, while plans of
// short windows are planned beside them and succeed.
func TestLongPlansBoundShortOnesNot(t *testing.T) {
	svc, _ := seeded(t, 200_000, testenv.ServiceOptions{NoExporter: true})
	pl := exporter.NewPlanner(svc.Bus, svc.Store, testenv.TestLogger())
	pl.Workers, pl.MaxPlans, pl.StepAside = 1, 2, time.Millisecond
	ctx, holding, letGo := runHeldPlanner(t, svc, pl)

	var long []string
	for i := range 2*pl.MaxPlans + 1 { // distinct windows: distinct jobs
		long = append(long, svc.Submit(t, "array_of_things", fmt.Sprintf("start_datetime=2026-09-24T0%d:00:00&end_datetime=2026-10-01T00:00:00", i)))
	}
	cons, err := svc.JS.Consumer(ctx, events.EventStream, events.PlannerName)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "every long request with the planner", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == len(long) && holding.Load() > 0
	})
	for i := range 3 {
		ticket := svc.Submit(t, "array_of_things", fmt.Sprintf("start_datetime=2026-09-28T1%d:00:00&end_datetime=2026-09-28T1%d:30:00", i, i))
		if j := svc.Wait(t, ticket, time.Minute); j.Status.Status != schema.StatusSuccess {
			t.Fatalf("short job %d: got %q (%v), want success", i, j.Status.Status, j.Result)
		}
	}
	if n := holding.Load(); n != int32(pl.MaxPlans) {
		t.Fatalf("long plans running beside the short ones: got %d, want MaxPlans, %d", n, pl.MaxPlans)
	}
	letGo()
	for _, ticket := range long {
		if j := svc.Wait(t, ticket, 3*time.Minute); j.Status.Status != schema.StatusSuccess {
			t.Fatalf("long job %s: got %q (%v), want success", ticket, j.Status.Status, j.Result)
		}
	}
}

// runHeldPlanner runs pl and an exporter on svc until the test ends,
// holding every plan of a window of a day or more until letGo is called:
// holding counts the plans held now; ctx ends with the test.
func runHeldPlanner(t *testing.T, svc *testenv.Service, pl *exporter.Planner) (ctx context.Context, holding *atomic.Int32, letGo func()) {
	t.Helper()
	release := make(chan struct{})
	var let sync.Once
	letGo = func() { let.Do(func() { close(release) }) }
	holding = new(atomic.Int32)
	exporter.HoldPlans(pl, func(ctx context.Context, e schema.Event) {
		if e.Request.Query.End.Sub(e.Request.Query.Start) < 24*time.Hour {
			return
		}
		holding.Add(1)
		defer holding.Add(-1)
		select {
		case <-release:
		case <-ctx.Done():
		}
	})
	ex := exporter.NewExporter(svc.Bus, svc.Store, testenv.TestLogger())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := pl.Run(ctx); err != nil {
			t.Errorf("planner: %v", err)
		}
	})
	wg.Go(func() { _ = ex.Run(ctx) })
	t.Cleanup(func() { letGo(); cancel(); wg.Wait() })
	return ctx, holding, letGo
}

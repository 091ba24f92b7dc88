package exporter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestSmallJobOvertakesBigOnes: three big jobs (about 100 parts each) are
// queued on one exporter worker, then a one-node, one-hour job. The small
// job's part is exported before all but a few of the big jobs' queued
// parts: first in, first out, it would wait behind all of them. The big
// jobs still finish.
func TestSmallJobOvertakesBigOnes(t *testing.T) {
	svc, n := seeded(t, 200_000, testenv.ServiceOptions{PartRows: 2_000, Concurrency: 1})

	// Every event and every queued part (as a partQueued event), in the
	// order the server took them: one server, one subscription, and core
	// subscribers see messages as they are stored.
	var mu sync.Mutex
	var seen []schema.Event
	sub, err := svc.NC.Subscribe("exports.>", func(m *nats.Msg) {
		var e schema.Event
		switch {
		case strings.HasPrefix(m.Subject, schema.PartSubjectPrefix):
			var p schema.PartTask
			if json.Unmarshal(m.Data, &p) != nil {
				return
			}
			e = schema.Event{Kind: partQueued, Ticket: p.Ticket}
		case strings.HasPrefix(m.Subject, schema.EventSubjectPrefix):
			if json.Unmarshal(m.Data, &e) != nil {
				return
			}
		default:
			return
		}
		mu.Lock()
		seen = append(seen, e)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	snapshot := func() []schema.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]schema.Event(nil), seen...)
	}

	big := map[string]bool{}
	for i := range 3 { // distinct windows: distinct jobs
		big[svc.Submit(t, "array_of_things", fmt.Sprintf("start_datetime=2026-09-24T0%d:00:00&end_datetime=2026-10-01T00:00:00", i))] = true
	}
	testenv.Eventually(t, 30*time.Second, "the big jobs planned", func() bool {
		started := 0
		for _, e := range snapshot() {
			if big[e.Ticket] && e.Kind == schema.EventStarted {
				if e.Parts < 50 {
					t.Fatalf("a big job has %d parts; the test needs many", e.Parts)
				}
				started++
			}
		}
		return started == len(big)
	})
	small := svc.Submit(t, "array_of_things", "nodes="+n.Nodes[3].ID+"&start_datetime=2026-09-28T10:00:00&end_datetime=2026-09-28T11:00:00")
	if j := svc.Wait(t, small, time.Minute); j.Status.Status != schema.StatusSuccess {
		t.Fatalf("small job: got %q (%v), want success", j.Status.Status, j.Result)
	}
	// The subscription's callback runs behind the server: the KV can say
	// success while the small job's part events still wait in its buffer
	// (seen at load 12: neither of them counted, and one big part_done).
	testenv.Eventually(t, 30*time.Second, "the small job's success seen by the subscriber", func() bool {
		for _, e := range snapshot() {
			if e.Ticket == small && e.Kind == schema.EventSucceeded {
				return true
			}
		}
		return false
	})

	// The big jobs' parts stored between the small job's part being queued
	// and being stored: the one running then, at most one bulk part on the
	// turn before the express lane's, and one more when the express lane's
	// waiting pull request has not yet been handed the part (seen: 3).
	// First in, first out, it is nearly all of them. (Counted from the
	// small job's started event instead, a loaded machine stored any number
	// of big parts while its planner went from the event to queuing.)
	var planned, stored bool
	var before, total, done int
	for _, e := range snapshot() {
		switch {
		case e.Ticket == small && e.Kind == partQueued:
			planned = true
		case e.Ticket == small && e.Kind == schema.EventPartDone:
			stored = true
		case big[e.Ticket] && e.Kind == schema.EventStarted:
			total += e.Parts
		case big[e.Ticket] && e.Kind == schema.EventPartDone:
			if !stored {
				done++
			}
			if planned && !stored {
				before++
			}
		}
	}
	after := total - done
	t.Logf("big jobs' parts stored while the small job waited: %d; after it: %d of %d", before, after, total)
	if !planned || !stored {
		t.Fatalf("did not see the small job's part queued (%v) and its part_done event (%v)", planned, stored)
	}
	if before > 6 {
		t.Fatalf("got %d big parts stored while the small job's part waited, want at most 6 (the big jobs had %d parts)", before, total)
	}
	if after < total/2 {
		t.Fatalf("only %d of %d big parts were left after the small job: the test did not queue it behind many", after, total)
	}
	for ticket := range big {
		if j := svc.Wait(t, ticket, 3*time.Minute); j.Status.Status != schema.StatusSuccess {
			t.Fatalf("big job %s: got %q (%v), want success", ticket, j.Status.Status, j.Result)
		}
	}
}

// partQueued stands for a part's work item in the test's list of events.
const partQueued schema.EventKind = "test.part_queued"

// TestSmallJobPlannedBesideLongPlans: more whole-table jobs than the
// planner has workers are queued, their plans held until the test lets
// them go (as a whole-table plan holds its worker for 0.6-1.9 s of
// ClickHouse at 20 M rows), then a one-node, one-hour job is submitted. It is planned and succeeds while
// they still run: first in, first out, it waited for all of them (the
// bench's fair phase: its plan began 5 s after its submission, behind six
// whole-table plans planned two at a time).
func TestSmallJobPlannedBesideLongPlans(t *testing.T) {
	svc, n := seeded(t, 200_000, testenv.ServiceOptions{NoExporter: true})
	release := make(chan struct{})
	var let sync.Once
	letGo := func() { let.Do(func() { close(release) }) }
	t.Cleanup(letGo)
	var holding atomic.Int32
	pl := exporter.NewPlanner(svc.Bus, svc.Store, testenv.TestLogger())
	// Parts of 20 000 rows: the big jobs' 60 parts in all, not 600, which
	// one exporter took 80-180 s to store at load 13-19, near the bound
	// of the wait for the first big job (3 min); what is tested is only
	// when the small job is planned, which the parts' count does not change.
	pl.PartRows = 20_000
	exporter.HoldPlans(pl, func(ctx context.Context, e schema.Event) {
		if len(e.Request.Query.Nodes) > 0 {
			return // the small job
		}
		holding.Add(1)
		defer holding.Add(-1)
		select {
		case <-release:
		case <-ctx.Done():
		}
	})
	ex := exporter.NewExporter(svc.Bus, svc.Store, testenv.TestLogger())
	ex.Concurrency = 1
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := pl.Run(ctx); err != nil {
			t.Errorf("planner: %v", err)
		}
	})
	wg.Go(func() { _ = ex.Run(ctx) })
	t.Cleanup(func() { letGo(); cancel(); wg.Wait() })

	var big []string
	for i := range 2*pl.Workers + 2 { // distinct windows: distinct jobs
		big = append(big, svc.Submit(t, "array_of_things", fmt.Sprintf("start_datetime=2026-09-24T0%d:00:00&end_datetime=2026-10-01T00:00:00", i)))
	}
	testenv.Eventually(t, 30*time.Second, "a long plan running", func() bool {
		return holding.Load() > 0
	})
	small := svc.Submit(t, "array_of_things", "nodes="+n.Nodes[3].ID+"&start_datetime=2026-09-28T10:00:00&end_datetime=2026-09-28T11:00:00")
	testenv.Eventually(t, 30*time.Second, "the small job done while the long plans run", func() bool {
		return svc.Job(t, small).Status.Status == schema.StatusSuccess
	})
	t.Logf("long plans running when the small job succeeded: %d of %d", holding.Load(), len(big))
	letGo()
	for _, ticket := range big {
		if j := svc.Wait(t, ticket, 3*time.Minute); j.Status.Status != schema.StatusSuccess {
			t.Fatalf("big job %s: got %q (%v), want success", ticket, j.Status.Status, j.Result)
		}
	}
}

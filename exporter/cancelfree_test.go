package exporter_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/plenario-next/exportd/chstore"
	"github.com/plenario-next/exportd/events"
	"github.com/plenario-next/exportd/exporter"
	"github.com/plenario-next/exportd/internal/testenv"
	"github.com/plenario-next/exportd/schema"
)

// TestCancelMidPartFreesStorage: a job cancelled while its exporter is
// storing a part, chunks of it already in the result store, leaves none of
// them there: the room is free again, as the storage limit counts it.
// The exporter holds its first part inside (HoldParts), a chunk of it
// stored, until it sees the job cancelled; it looks every 20 ms.
// A Put whose context was cancelled could not remove its chunks (its purge
// ran on the cancelled context) and they stayed, no object's, for good.
//
// The test used to poll for the moment a part's chunks were stored and
// the part not yet whole; on a loaded machine (load 18) its polls missed
// that moment of the first part (a few hundred ms), and no later one could
// match (1 of 3 runs of the package).
func TestCancelMidPartFreesStorage(t *testing.T) {
	svc := testenv.StartService(t, testenv.ServiceOptions{NoExporter: true})
	if err := svc.Store.Seed(t.Context(), chstore.DemoNetwork("array_of_things"), 600_000, seedEnd); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pl := exporter.NewPlanner(svc.Bus, svc.Store, testenv.TestLogger())
	pl.PartRows = 300_000
	ex := exporter.NewExporter(svc.Bus, svc.Store, testenv.TestLogger())
	ex.Concurrency, ex.ProgressInterval = 1, 20*time.Millisecond
	// Parts are of some 150 000 rows, 1.5 MB of S2 each: at 131 072 rows,
	// a chunk (1 MiB) of part 1 is stored, the part not yet whole.
	held := make(chan struct{})
	var holding sync.Once
	exporter.HoldParts(ex, func(ctx context.Context, p schema.PartTask, rows int64) {
		if p.Spec.Part == 1 && rows >= 2<<16 {
			holding.Do(func() {
				close(held)
				<-ctx.Done() // the cancel, seen by the exporter
			})
		}
	})
	done := make(chan struct{}, 2)
	go func() { _ = pl.Run(ctx); done <- struct{}{} }()
	go func() { _ = ex.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	ticket := svc.Submit(t, "array_of_things", window)
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatalf("part 1 not halfway within a minute: %d bytes stored, %d objects of the job", storeBytes(t, svc)[events.ResultBucket], objectsOf(t, svc, ticket))
	}
	testenv.Eventually(t, 10*time.Second, "a chunk of part 1 stored, the part not yet whole", func() bool {
		return storeBytes(t, svc)[events.ResultBucket] > 0 && objectsOf(t, svc, ticket) == 0
	})
	if code, j := del(t, svc.URL+"/v1/api/jobs/"+ticket); code != 200 || j.Status.Status != schema.StatusCancelled {
		t.Fatalf("DELETE: got %d %s, want 200 cancelled", code, j.Status.Status)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := storeBytes(t, svc)[events.ResultBucket]
		if partsQueued(t, svc) == 0 && left < 64<<10 { // a few deletion markers at most
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the cancel the result store holds %d bytes, %d objects of the job, %d parts queued; want its room free",
				left, objectsOf(t, svc, ticket), partsQueued(t, svc))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
